"""Apply an MDS Policy import to a city's zones: all changes of a plan or none, and the same document twice
changes nothing (the plan compares with what earlier imports made)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from core import audit
from core.errors import DomainError
from fleet.mds_policy import mapping
from fleet.mds_policy.documents import Documents
from fleet.models import City, ImportedPolicy, VehicleType, Zone
from fleet.selectors import policy_import as policy_selectors
from fleet.services import zones as zone_services


class PolicyPlanStale(DomainError):
    code, status, message = "policy_plan_stale", 409, \
        "The zones changed since this import was previewed; preview it again."


def _model_fields(fields: mapping.ZoneFields) -> dict[str, Any]:
    out = {name: getattr(fields, name) for name in (
        "name", "kind", "priority", "geometry", "starts_at", "ends_at", "ride_start_allowed", "ride_end_allowed",
        "ride_through_allowed", "maximum_speed_kph", "vehicle_cap", "active")}
    out["station_parking"] = None
    return out


@transaction.atomic
def policy_plan_apply(*, city: City, plan: mapping.Plan) -> None:
    """Write every change of ``plan`` in one transaction, and record its policies (``ImportedPolicy``: which
    policies they replace); geofence caches recompile after commit."""
    codes = {code for change in plan.changes for code in change.fields.vehicle_types}
    types = {t.code: t for t in VehicleType.objects.filter(code__in=codes)}
    for change in plan.changes:
        if change.action == "unchanged":
            continue
        source = {"mds_policy_id": uuid.UUID(change.source.policy_id), "mds_rule_id": uuid.UUID(change.source.rule_id),
                  "mds_geography_id": uuid.UUID(change.source.geography_id)}
        if change.action == "create":
            zone = Zone.objects.create(city=city, **_model_fields(change.fields), **source)
        else:
            zone = Zone.objects.select_for_update().get(id=str(change.zone_id), city=city)
            for name, value in {**_model_fields(change.fields), **source}.items():
                setattr(zone, name, value)
            zone.save()
        zone.vehicle_types.set([types[code] for code in change.fields.vehicle_types])
    for policy in plan.policies:
        ImportedPolicy.objects.get_or_create(city=city, policy_id=uuid.UUID(policy.policy_id), defaults={
            "name": policy.name[:255], "published_at": policy.published_at,
            "prev_policies": [uuid.UUID(p) for p in policy.prev_policies]})
    if plan.has_changes:
        zone_services.zones_changed(city.id)


@transaction.atomic
def policy_import(*, city: City, documents: Documents, expected_digest: str | None = None,
                  now: datetime | None = None, actor: Any = None) -> mapping.Plan:
    """Plan and apply ``documents`` for ``city``. Imports of one city run one at a time (city row lock), so two
    imports of the same document cannot both create its zones. With ``expected_digest`` (the previewed plan's),
    a plan that changed since the preview is refused (``PolicyPlanStale``, 409) and nothing is written."""
    City.objects.select_for_update().get(id=city.id)
    plan = policy_selectors.policy_plan(city=city, documents=documents, now=now)
    if expected_digest is not None and plan.digest() != expected_digest:
        raise PolicyPlanStale()
    policy_plan_apply(city=city, plan=plan)
    if plan.has_changes:
        audit.audit_staff_action(
            actor=actor, action="fleet.policy_import", obj=city, reason=plan.summary(),
            after={"policies": [str(p.policy_id) for p in plan.policies],
                   **{action: [c.rule_name for c in plan.of(action)] for action in ("create", "update", "deactivate")}})
    return plan
