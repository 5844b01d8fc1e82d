"""MDS /vehicles and /vehicles/status: derived from fleet's vehicles and event log, validated against MDS 2.0,
scoped to the agency's cities, paginated with JSON:API links, elsewhere/removed/missing kept for 90 minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import City, Vehicle
from fleet.services import Location
from tests.feeds import mds_schema
from tests.feeds.conftest import MdsClient
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db


def deployed(city: City, *, at: datetime | None = None, **fields: Any) -> Vehicle:
    """A vehicle of ``city`` put on the street through the event log (``provider_drop_off``)."""
    vehicle = VehicleFactory.create(city=city, available=False, **fields)
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["provider_drop_off"],
                                      at=at or timezone.now() - timedelta(minutes=30),
                                      location=Location(lat=52.52, lon=13.40), battery_pct=80)
    vehicle.refresh_from_db()
    return vehicle


def device_ids(body: dict[str, Any], key: str = "vehicles") -> set[str]:
    return {record["device_id"] for record in body[key]}


def test_vehicles_lists_the_agencys_deployed_vehicles_in_the_mds_schema(mds_client: MdsClient, mds_city: City,
                                                                         other_city: City) -> None:
    kind = VehicleTypeFactory(make="Segway", model="Max G30", form_factor="scooter_standing",
                              propulsion_type="electric")
    ours = deployed(mds_city, vehicle_type=kind)
    deployed(other_city)
    VehicleFactory(city=mds_city, available=False)  # never left the workshop: not deployed

    r = mds_client.get("/mds/vehicles")

    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.mds+json;version=2.0"
    body = r.json()
    mds_schema.validate(body, "/vehicles")
    assert body["version"] == "2.0.0"
    assert body["links"]["next"] is None
    assert body["vehicles"] == [{
        "device_id": str(ours.id), "provider_id": "6f0a4a2e-5d43-4c1e-9b7a-3e1f0d2c9a51", "vehicle_id": ours.code,
        "vehicle_type": "scooter_standing", "propulsion_types": ["electric"],
        "vehicle_attributes": {"make": "Segway", "model": "Max G30"}, "maximum_speed": 20,
    }]
    assert isinstance(body["last_updated"], int) and body["ttl"] == 0
