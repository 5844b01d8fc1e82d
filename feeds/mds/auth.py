"""Who pulls the MDS feed: an agency's bearer token (``Authorization: Bearer mds_<prefix>_<secret>``).

MDS Provider asks for bearer-token authorization and recommends JWTs; the token here is opaque (256 random bits,
stored hashed, revocable at once from the admin), which is what the MDS text leaves to the provider. The token
identifies an agency; the agency's cities are its scope (``feeds.mds.scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from feeds.mds import selectors, services
from feeds.models import Agency, AgencyCredential


@dataclass(frozen=True)
class AgencyCaller:
    """``request.user`` of an MDS request: the agency and the credential it used."""

    agency: Agency
    credential: AgencyCredential
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_staff: ClassVar[bool] = False

    def __str__(self) -> str:
        return f"{self.agency} ({self.credential})"


class AgencyAuthentication(BaseAuthentication):
    """A bearer token issued by ``credential_issue``; an unknown or revoked token is 401 ``authentication_failed``."""

    def authenticate(self, request: Request) -> tuple[AgencyCaller, AgencyCredential] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("The Authorization header must be: Bearer <token>.")
        credential = selectors.credential_authenticate(token=parts[1].decode("latin-1"))
        if credential is None:
            raise AuthenticationFailed("Unknown or revoked MDS token.")
        services.credential_touch(credential=credential)
        return AgencyCaller(agency=credential.agency, credential=credential), credential

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="mds"'


class IsAgency(BasePermission):
    """Only agencies: a rider's or staff member's JWT is not an MDS credential."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, AgencyCaller)
