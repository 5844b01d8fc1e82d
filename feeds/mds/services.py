"""Writes of the MDS framework: agencies, their credentials (issue, revoke, last use)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core import audit
from feeds.mds import selectors
from feeds.models import Agency, AgencyCredential
from fleet import selectors as fleet_selectors

# last_used_at is written at most this often per credential: an agency polling /vehicles/status every few seconds
# should not turn every pull into a row update.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@transaction.atomic
def agency_ensure(*, name: str, city_slugs: Sequence[str] = ()) -> Agency:
    """The agency of this name (created if new), regulating at least ``city_slugs`` (added, never removed).

    Raises ``fleet.errors.CityNotFound`` naming an unknown slug; nothing is written then.
    """
    cities = fleet_selectors.cities_by_slug(slugs=city_slugs)
    agency, _ = Agency.objects.get_or_create(name=name.strip())
    agency.cities.add(*cities)
    return agency


@transaction.atomic
def credential_issue(*, agency: Agency, created_by: User | None = None) -> tuple[AgencyCredential, str]:
    """A new bearer token for ``agency``: returns the credential and the token, which is not stored and cannot be
    shown again (only its SHA-256 is kept)."""
    prefix = secrets.token_hex(4)
    token = f"mds_{prefix}_{secrets.token_urlsafe(32)}"
    credential = AgencyCredential.objects.create(
        agency=agency, prefix=prefix, token_hash=selectors.token_hash(token), created_by=created_by,
    )
    audit.audit_staff_action(actor=created_by, action="feeds.credential_issue", obj=credential,
                             after={"agency": agency.name, "prefix": prefix, "token_hash": credential.token_hash})
    return credential, token


@transaction.atomic
def credential_revoke(*, credential_id: uuid.UUID, actor: User | None = None) -> bool:
    """Revoke a credential at once (its next request is 401); False if it was already revoked."""
    now = timezone.now()
    revoked = bool(AgencyCredential.objects.filter(id=credential_id, revoked_at__isnull=True).update(revoked_at=now))
    if revoked:
        credential = AgencyCredential.objects.select_related("agency").get(id=credential_id)
        audit.audit_staff_action(actor=actor, action="feeds.credential_revoke", obj=credential,
                                 before={"revoked_at": None}, after={"revoked_at": audit.jsonable(now)})
    return revoked


def credential_touch(*, credential: AgencyCredential) -> None:
    """Record that the credential was used (conditional UPDATE, at most once per ``LAST_USED_RESOLUTION``)."""
    now = timezone.now()
    if credential.last_used_at is not None and now - credential.last_used_at < LAST_USED_RESOLUTION:
        return
    AgencyCredential.objects.filter(id=credential.id).exclude(last_used_at__gte=now - LAST_USED_RESOLUTION) \
        .update(last_used_at=now)
    credential.last_used_at = now
