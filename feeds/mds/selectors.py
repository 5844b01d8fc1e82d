"""Reads of the MDS framework: a credential from its token, an agency's cities."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from feeds.models import Agency, AgencyCredential


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credential_authenticate(*, token: str) -> AgencyCredential | None:
    """The active credential this bearer token belongs to, with its agency; ``None`` if unknown or revoked.

    Looked up by the token's SHA-256 (unique index): a token is 256 random bits, so its hash is as good a key as the
    token and comparing it leaks nothing useful.
    """
    if not token.startswith("mds_") or len(token) > 200:
        return None
    return (AgencyCredential.objects.select_related("agency")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True).first())


@dataclass(frozen=True)
class ScopeCity:
    id: uuid.UUID
    slug: str


def agency_cities(*, agency: Agency) -> list[ScopeCity]:
    """The cities an agency regulates (its data scope), by slug."""
    return [ScopeCity(id=city_id, slug=slug)
            for city_id, slug in agency.cities.order_by("slug").values_list("id", "slug")]
