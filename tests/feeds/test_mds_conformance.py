"""MDS 2.0 end to end, as a city's conformance check sees it: riders and ops act through the real code paths (the
REST API, the vehicle's answers, the fleet services), then every MDS endpoint is pulled with the agency's token and
checked against the OpenAPI models and the rules the specification states in prose.

The hourly endpoints serve past hours only, so after the activity every timestamp of the database is moved back by
``SHIFT``, in the test's transaction (what the outside check did on a scratch database: docs/mds.md "Conformance").
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from billing.services import methods, tariffs
from feeds.mds import services as mds_services
from fleet import services as fleet_services
from fleet import states
from fleet.models import Vehicle
from rides.models import Ride
from tests.accounts.factories import UserFactory
from tests.feeds import mds_schema
from tests.feeds.conftest import MdsClient
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory

SHIFT = timedelta(hours=3)
MDS_TYPE = "application/vnd.mds+json;version=2.0"


def _ack(command_id: uuid.UUID | None, capture: Any, *, ok: bool = True) -> None:
    """The vehicle answers a command (delivered through the silent simulated gateway)."""
    assert command_id is not None
    fleet_services.command_deliver(command_id=command_id)
    with capture(execute=True):
        fleet_services.command_ack(command_id=command_id, ok=ok)


def _ride(ride_id: str) -> Ride:
    return Ride.objects.get(id=ride_id)


def _shift_back(delta: timedelta) -> None:
    """Every ``timestamp with time zone`` of the database moved back by ``delta`` (the ledger's immutability
    trigger is bypassed for this session only, as a scratch-database time shift must)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("""
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN pg_class k ON k.relname = c.table_name AND NOT k.relispartition
            WHERE c.table_schema = 'public' AND c.data_type = 'timestamp with time zone'
              AND c.table_name NOT LIKE 'django_%%'""")
        for table, column in cursor.fetchall():
            cursor.execute(f'UPDATE "{table}" SET "{column}" = "{column}" - make_interval(secs => %s) '
                           f'WHERE "{column}" IS NOT NULL', [delta.total_seconds()])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@pytest.fixture
def activity(api: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    """A city with vehicles deployed by ops, a full journey (reserve, start, pause, resume, end), a cancelled
    reservation, an unlock the vehicle refused, a vehicle sent to maintenance; then everything moved back."""
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"
    settings.MDS_HOUR_GRACE_S = 300
    city = CityFactory.create(slug="conformance", name="Conformance City")
    ZoneFactory.create(city=city, kind="operating_area")
    vtype = VehicleTypeFactory.create(code="scooter")
    tariffs.tariff_publish(city=city, vehicle_type=vtype, unlock_fee=Decimal("1.00"),
                           brackets=[{"start_minute": 0, "per_minute": "0.25"}], pause_per_minute=Decimal("0.10"))
    vehicles = [VehicleFactory.create(city=city, vehicle_type=vtype, available=False) for _ in range(3)]
    for v in vehicles:
        fleet_services.vehicle_deploy(vehicle_id=v.id, location=fleet_services.Location(52.52, 13.405))
    rider, other = UserFactory.create(), UserFactory.create()
    for user in (rider, other):
        methods.payment_method_add(user=user, token="tok_visa")

    # A journey: reserve, start from the reservation, pause, resume, end.
    api.as_(rider)
    reservation = api.post("/api/v1/reservations", {"code": vehicles[0].code}, format="json")
    assert reservation.status_code == 201, reservation.json()
    start = api.post("/api/v1/rides/start", {"reservation_id": reservation.json()["id"]}, format="json")
    assert start.status_code == 201, start.json()
    ride_id = start.json()["id"]
    _ack(_ride(ride_id).unlock_command_id, django_capture_on_commit_callbacks)
    assert api.post(f"/api/v1/rides/{ride_id}/pause").status_code == 200
    _ack(_ride(ride_id).lock_command_id, django_capture_on_commit_callbacks)
    assert api.post(f"/api/v1/rides/{ride_id}/resume").status_code == 200
    _ack(_ride(ride_id).unlock_command_id, django_capture_on_commit_callbacks)
    assert api.post(f"/api/v1/rides/{ride_id}/end").status_code == 202
    _ack(_ride(ride_id).lock_command_id, django_capture_on_commit_callbacks)
    assert _ride(ride_id).state == "ended"

    # A reservation cancelled, then a start whose unlock the vehicle refuses.
    api.as_(other)
    reservation = api.post("/api/v1/reservations", {"code": vehicles[1].code}, format="json")
    assert api.post(f"/api/v1/reservations/{reservation.json()['id']}/cancel").status_code == 200
    refused = api.post("/api/v1/rides/start", {"code": vehicles[1].code}, format="json")
    assert refused.status_code == 201, refused.json()
    _ack(_ride(refused.json()["id"]).unlock_command_id, django_capture_on_commit_callbacks, ok=False)
    assert _ride(refused.json()["id"]).state == "cancelled"

    # Ops.
    fleet_services.vehicle_set_maintenance(vehicle_id=vehicles[2].id)

    _shift_back(SHIFT)
    agency = mds_services.agency_ensure(name="Conformance agency", city_slugs=[city.slug])
    client = MdsClient().with_token(mds_services.credential_issue(agency=agency)[1])
    return {"client": client, "vehicles": vehicles, "ride_id": ride_id, "refused_id": refused.json()["id"]}


def _get(client: MdsClient, path: str, status: int = 200) -> Any:
    response = client.get(path)
    assert response.status_code == status, (path, response.content[:300])
    assert response["Content-Type"] == MDS_TYPE
    raw = b"".join(response.streaming_content) if response.streaming else response.content  # /telemetry streams
    body = json.loads(raw)
    assert body["version"] == "2.0.0"
    return body


def _paged(client: MdsClient, path: str, key: str, schema: str) -> list[dict[str, Any]]:
    records, url = [], path
    while url:
        body = _get(client, url)
        mds_schema.validate(body, schema)
        records += body[key]
        url = body["links"]["next"]
        assert "next" in body["links"]
    return records


def _hours() -> list[datetime]:
    """The hours the shifted activity may fall in (it took seconds, but may straddle an hour boundary)."""
    now = timezone.now().astimezone(UTC)
    first = (now - SHIFT - timedelta(minutes=1)).replace(minute=0, second=0, microsecond=0)
    last = (now - SHIFT + timedelta(minutes=1)).replace(minute=0, second=0, microsecond=0)
    return [first] if first == last else [first, last]


def _lowercase_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_id") and isinstance(value, str) and len(value) == 36:
                assert value == value.lower(), (key, value)
            _lowercase_ids(value)
    elif isinstance(node, list):
        for item in node:
            _lowercase_ids(item)


@pytest.mark.django_db
def test_mds_answers_conform_after_real_journeys(activity: dict[str, Any]) -> None:
    client: MdsClient = activity["client"]
    trips: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    telemetry: list[dict[str, Any]] = []
    for hour in _hours():
        param = hour.strftime("%Y-%m-%dT%H")
        body = _get(client, f"/mds/trips?end_time={param}")
        mds_schema.validate(body, "/trips")
        trips.update({t["trip_id"]: t for t in body["trips"]})
        body = _get(client, f"/mds/events/historical?event_time={param}")
        mds_schema.validate(body, "/events/historical")
        events += body["events"]
        body = _get(client, f"/mds/telemetry?telemetry_time={param}")
        mds_schema.validate(body, "/telemetry")
        telemetry += body["telemetry"]
    _get(client, f"/mds/trips?end_time={timezone.now():%Y-%m-%dT%H}", 404)  # not yet past
    earlier = _hours()[0] - timedelta(hours=1)
    _get(client, f"/mds/events/historical?event_time={earlier:%Y-%m-%dT%H}", 404)  # not operated yet

    # Both rides are trips (the refused unlock is a cancelled trip); every id is lowercase, every time ms.
    assert set(trips) == {activity["ride_id"], activity["refused_id"]}
    _lowercase_ids([trips, events, telemetry])
    for record in [*trips.values(), *events, *telemetry]:
        for key in ("timestamp", "start_time", "end_time", "publication_time"):
            if key in record:
                assert isinstance(record[key], int) and record[key] > 10**12, (key, record[key])

    # Every device resolves; every trip_ids resolves to a served trip and trip_* events carry it.
    for device in {e["device_id"] for e in events} | {t["device_id"] for t in [*trips.values(), *telemetry]}:
        mds_schema.validate(_get(client, f"/mds/vehicles/{device}"), "/vehicles/{device_id}")
    for event in events:
        assert ("trip_ids" in event) == bool(states.TRIP_EVENTS.intersection(event["event_types"])), event
        assert all(t in trips for t in event.get("trip_ids") or []), event

    # Each vehicle's events follow the micromobility state table.
    seen_types = set()
    by_device: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda e: e["timestamp"]):
        by_device.setdefault(event["device_id"], []).append(event)
        seen_types.update(event["event_types"])
    for sequence in by_device.values():
        assert sequence[0]["event_types"] == ["provider_drop_off"]
        for before, after in zip(sequence, sequence[1:], strict=False):
            for event_type in after["event_types"]:
                assert after["vehicle_state"] in states.next_states(before["vehicle_state"], event_type), (
                    before["vehicle_state"], event_type, after["vehicle_state"])
    assert {"reservation_start", "reservation_cancel", "trip_start", "trip_end", "trip_cancel",
            "maintenance"} <= seen_types

    # Telemetry: at least two points per trip; trip_ids only inside a trip, journey_id always null (micromobility).
    for trip_id, trip in trips.items():
        points = [p for p in telemetry if trip_id in (p["trip_ids"] or [])]
        assert len(points) >= 2, trip_id
        assert all(trip["start_time"] <= p["timestamp"] <= trip["end_time"] for p in points)
    assert all(p["journey_id"] is None for p in telemetry)

    # /events/recent over the same range serves the same events; more than two weeks back is refused.
    start_ms = int(_hours()[0].timestamp() * 1000)
    end_ms = int((_hours()[-1] + timedelta(hours=1)).timestamp() * 1000)
    recent = _paged(client, f"/mds/events/recent?start_time={start_ms}&end_time={end_ms}&limit=3", "events",
                    "/events/recent")
    assert sorted(e["event_id"] for e in recent) == sorted(e["event_id"] for e in events)
    _get(client, f"/mds/events/recent?start_time={end_ms - 15 * 86_400_000}&end_time={end_ms}", 400)

    # /vehicles and /vehicles/status: every vehicle, paginated to the end, no trip_ids off trip.
    vehicles = _paged(client, "/mds/vehicles?limit=2", "vehicles", "/vehicles")
    assert {v["device_id"] for v in vehicles} == {str(v.id) for v in activity["vehicles"]}
    status = _paged(client, "/mds/vehicles/status?limit=2", "vehicles_status", "/vehicles/status")
    assert all(s["last_telemetry"]["trip_ids"] is None for s in status if "last_telemetry" in s)
    for record in status:
        assert record["device_id"] == record["last_event"]["device_id"]
    assert all(v.status != "on_trip" for v in Vehicle.objects.filter(city__slug="conformance"))


@pytest.mark.django_db
def test_another_agency_sees_none_of_it(activity: dict[str, Any]) -> None:
    other = CityFactory.create(slug="elsewhere-city", name="Elsewhere")
    agency = mds_services.agency_ensure(name="Elsewhere agency", city_slugs=[other.slug])
    client = MdsClient().with_token(mds_services.credential_issue(agency=agency)[1])
    assert _get(client, "/mds/vehicles")["vehicles"] == []
    assert _get(client, "/mds/vehicles/status")["vehicles_status"] == []
    _get(client, f"/mds/vehicles/{activity['vehicles'][0].id}", 404)
    for hour in _hours():
        _get(client, f"/mds/trips?end_time={hour:%Y-%m-%dT%H}", 404)  # it operated nothing in that hour
        assert _get(client, f"/mds/telemetry?telemetry_time={hour:%Y-%m-%dT%H}")["telemetry"] == []
