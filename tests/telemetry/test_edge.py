"""The HTTP edge: authentication, decoding, per-message errors, and no PostgreSQL on the hot path."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from django.test import Client

from fleet import services as fleet_services
from fleet.models import Vehicle
from telemetry import pipeline, status
from tests.telemetry.conftest import URL, auth, message, now_ms, stream_messages

pytestmark = pytest.mark.django_db


def post(body: Any, headers: dict[str, Any], content_type: str = "application/json") -> Any:
    data = msgpack.packb(body) if content_type == "application/msgpack" else body
    return Client().post(URL, data=data, content_type=content_type, **headers)


def test_one_message_is_accepted_queued_and_applied(vehicle_secret: Any) -> None:
    vehicle, secret = vehicle_secret
    r = post(message(1, lat=52.53, lon=13.41, battery_pct=55, locked=False), auth(vehicle, secret))
    assert r.status_code == 202
    assert r.json() == {"accepted": 1, "rejected": 0, "errors": []}
    assert stream_messages() == 1
    assert pipeline.drain_until_empty() == 1
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon, vehicle.battery_pct, vehicle.locked) == (52.53, 13.41, 55, False)
    assert vehicle.last_seen_at is not None


def test_batch_answers_an_error_per_rejected_message(vehicle_secret: Any) -> None:
    vehicle, secret = vehicle_secret
    batch = [message(1), {"seq": 2}, message(3, lat=91.0, lon=0.0), message(4, ts=now_ms() + 3_600_000),
             "nope", message(5, battery_pct=True)]
    r = post(batch, auth(vehicle, secret, by="id"))
    assert r.status_code == 202
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 5)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "missing_field"), (2, "out_of_range"), (3, "ts_in_future"), (4, "not_an_object"), (5, "invalid_field")]
    assert stream_messages() == 1
    assert status.snapshot()["rejected"] == {"missing_field": 1, "out_of_range": 1, "ts_in_future": 1,
                                             "not_an_object": 1, "invalid_field": 1}


def test_messagepack_body(vehicle_secret: Any) -> None:
    vehicle, secret = vehicle_secret
    r = post([message(1, lat=52.5, lon=13.4), message(2, alarms=["tamper"])], auth(vehicle, secret),
             content_type="application/msgpack")
    assert (r.status_code, r.json()["accepted"]) == (202, 2)


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "vehicle_auth_required"),
    ({"HTTP_AUTHORIZATION": "Bearer abc"}, "vehicle_auth_required"),
    ({"HTTP_AUTHORIZATION": "Vehicle NOSUCH1:secret"}, "vehicle_auth_failed"),
])
def test_missing_or_unknown_credential_is_401(vehicle_secret: Any, headers: dict[str, Any], code: str) -> None:
    r = post(message(1), headers)
    assert (r.status_code, r.json()["error"]["code"]) == (401, code)
    assert stream_messages() == 0


def test_wrong_and_rotated_secret_are_refused(vehicle_secret: Any, django_capture_on_commit_callbacks: Any) -> None:
    vehicle, secret = vehicle_secret
    r = post(message(1), auth(vehicle, secret + "x"))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "vehicle_auth_failed")
    assert post(message(1), auth(vehicle, secret)).status_code == 202  # warms the credential cache
    with django_capture_on_commit_callbacks(execute=True):  # rotation drops the cached hash at commit
        new_secret = fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    r = post(message(2), auth(vehicle, secret))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "vehicle_auth_failed")
    assert post(message(2), auth(vehicle, new_secret)).status_code == 202
    assert stream_messages() == 2
    assert status.snapshot()["rejected"]["auth_failed"] == 2


def test_hot_path_makes_no_database_query_once_the_credential_is_cached(
    vehicle_secret: Any, django_assert_num_queries: Any
) -> None:
    vehicle, secret = vehicle_secret
    assert post(message(1), auth(vehicle, secret)).status_code == 202
    with django_assert_num_queries(0):
        r = post([message(2), message(3)], auth(vehicle, secret))
    assert r.json()["accepted"] == 2


@pytest.mark.parametrize(("body", "content_type", "status_code", "code"), [
    (b"{not json", "application/json", 400, "malformed_request"),
    (b"\xc1", "application/msgpack", 400, "malformed_request"),
    (b"[]", "application/json", 400, "empty_batch"),
    (b"seq=1", "text/plain", 415, "unsupported_media_type"),
])
def test_bad_bodies(vehicle_secret: Any, body: bytes, content_type: str, status_code: int, code: str) -> None:
    vehicle, secret = vehicle_secret
    r = Client().post(URL, data=body, content_type=content_type, **auth(vehicle, secret))
    assert (r.status_code, r.json()["error"]["code"]) == (status_code, code)


def test_too_many_messages_is_413(vehicle_secret: Any, settings: Any) -> None:
    settings.TELEMETRY_MAX_REQUEST_MESSAGES = 3
    vehicle, secret = vehicle_secret
    r = post([message(i) for i in range(4)], auth(vehicle, secret))
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_messages")
    assert Vehicle.objects.get(id=vehicle.id).last_seen_at is None


def test_backpressure_a_full_backlog_refuses_with_503_and_retry_after_then_recovers(
        vehicle_secret: Any, settings: Any, monkeypatch: Any) -> None:
    """Past TELEMETRY_MAX_BACKLOG entries in a shard stream the edge refuses (the message stays with the unit)."""
    from telemetry import streams

    vehicle, secret = vehicle_secret
    settings.TELEMETRY_MAX_BACKLOG = 2
    monkeypatch.setattr(streams, "_full_until", 0.0)
    for seq in (1, 2, 3):  # the third write finds 3 entries in the shard: the backlog is over the limit
        assert post(message(seq), auth(vehicle, secret)).status_code == 202
    refused = post(message(4), auth(vehicle, secret))
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "telemetry_backlog_full")
    assert refused["Retry-After"] == "1"
    assert stream_messages() == 3  # nothing written
    assert int(streams.client().hget(streams.key("rejected"), "telemetry_backlog_full") or 0) == 1
    monkeypatch.setattr(streams, "_full_until", 0.0)  # a second later the next write measures again
    settings.TELEMETRY_MAX_BACKLOG = 100
    assert post(message(4), auth(vehicle, secret)).status_code == 202
