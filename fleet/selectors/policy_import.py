"""Reads for the MDS Policy import: the zones earlier imports made, the vehicle type catalogue, and the plan."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from fleet.mds_policy import mapping
from fleet.mds_policy.documents import Documents
from fleet.models import City, ImportedPolicy, VehicleType, Zone


def zone_fields(zone: Zone) -> mapping.ZoneFields:
    return mapping.ZoneFields(
        name=zone.name, kind=zone.kind, priority=zone.priority, geometry=zone.geometry, starts_at=zone.starts_at,
        ends_at=zone.ends_at, vehicle_types=tuple(sorted(t.code for t in zone.vehicle_types.all())),
        ride_start_allowed=zone.ride_start_allowed, ride_end_allowed=zone.ride_end_allowed,
        ride_through_allowed=zone.ride_through_allowed, maximum_speed_kph=zone.maximum_speed_kph,
        vehicle_cap=zone.vehicle_cap, active=zone.active,
    )


def imported_zones(*, city: City) -> list[mapping.ExistingZone]:
    """Every zone of the city an MDS Policy import made, active or not."""
    zones = Zone.objects.filter(city=city, mds_policy_id__isnull=False).prefetch_related("vehicle_types")
    return [
        mapping.ExistingZone(
            id=str(z.id), fields=zone_fields(z),
            source=mapping.Source(str(z.mds_policy_id), str(z.mds_rule_id), str(z.mds_geography_id)),
        )
        for z in zones
    ]


def vehicle_type_catalog() -> list[mapping.VehicleTypeInfo]:
    return [mapping.VehicleTypeInfo(code, form, propulsion)
            for code, form, propulsion in VehicleType.objects.values_list("code", "form_factor", "propulsion_type")]


def superseded_policies(*, city: City) -> dict[str, str]:
    """Policy id -> name of the imported policy that replaced it (its ``prev_policies``)."""
    return {str(prev): policy.name for policy in ImportedPolicy.objects.filter(city=city)
            for prev in policy.prev_policies}


def policy_plan(*, city: City, documents: Documents, now: datetime | None = None) -> mapping.Plan:
    """What importing ``documents`` into ``city`` would change (nothing is written)."""
    return mapping.build_plan(documents=documents, existing=imported_zones(city=city),
                              catalog=vehicle_type_catalog(), now=now or timezone.now(),
                              superseded_by=superseded_policies(city=city))
