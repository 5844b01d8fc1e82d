"""Crafted bodies at the telemetry edge get a 4xx in the envelope, never a 500 (docs/security.md "Input limits")."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from django.test import Client

from tests.telemetry.conftest import URL, auth, message, stream_messages

pytestmark = pytest.mark.django_db

DEEP = 100_000


def _post(vehicle_secret: Any, body: bytes, content_type: str) -> Any:
    vehicle, secret = vehicle_secret
    return Client(raise_request_exception=False).post(URL, data=body, content_type=content_type,
                                                      **auth(vehicle, secret))


@pytest.mark.parametrize(("body", "content_type"), [
    (b"[" * DEEP + b"]" * DEEP, "application/json"),  # json.loads: RecursionError
    (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "application/json"),
    (b"\x91" * DEEP + b"\xc0", "application/msgpack"),
    (b"\x81\x91\x01\x01", "application/msgpack"),  # {[1]: 1}: an array as a map key (unhashable)
    (msgpack.packb({"seq": 1, "ack": {1: 2}}), "application/msgpack"),  # only string keys
])
def test_deep_or_unhashable_bodies_are_400_malformed_and_queue_nothing(vehicle_secret, body, content_type):
    r = _post(vehicle_secret, body, content_type)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_request")
    assert stream_messages() == 0


def test_nesting_up_to_1024_levels_is_still_json(vehicle_secret):
    r = _post(vehicle_secret, b"[" * 1024 + b"]" * 1024, "application/json")
    assert r.status_code == 202 and r.json()["rejected"] == 1


def test_a_body_over_the_upload_limit_is_413_too_many_messages(vehicle_secret, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = b"[" + b",".join([b'{"seq": 1, "ts": 1795438800120, "lat": 52.52}'] * 400) + b"]"
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    r = _post(vehicle_secret, body, "application/json")
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_messages")
    assert stream_messages() == 0


def test_a_body_over_the_limit_with_an_idempotency_key_is_413_too(vehicle_secret, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    vehicle, secret = vehicle_secret
    r = Client().post(URL, data=[message(1)] * 400, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1",
                      **auth(vehicle, secret))
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_messages")


def test_the_mqtt_bridge_refuses_a_deep_envelope_as_malformed():
    from telemetry.mqtt import bridge

    deep = b'{"secret": "s", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(bridge.EnvelopeInvalid) as refused:
        bridge.decode(deep[: bridge.MAX_PAYLOAD])
    assert refused.value.code == "malformed_request"
