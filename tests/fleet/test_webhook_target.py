"""Webhook URLs against internal addresses (SSRF): refused when an endpoint is saved in the admin and again before
every send (DNS may have changed), for every kind of non-public address, IPv4 and IPv6 (IPv4-mapped included),
non-http(s) schemes and credentials in the URL; the POST goes to the checked address and never follows a
redirect. Host names resolve through ``webhook_target.resolve``, which the tests replace (no DNS, no socket patch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from fleet import services
from fleet.models import AlertDeliveryAttempt, AlertEndpoint
from fleet.services import alerting, webhook_target
from tests.fleet.factories import VehicleFactory
from tests.fleet.test_alert_admin import ENDPOINTS, as_role, form
from tests.fleet.test_alert_delivery import T0, Receiver

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, list[str]]:
    """Host name -> its addresses (what our resolver answers); unknown names do not resolve."""
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"no address for {host}")
        return table[host]

    monkeypatch.setattr(webhook_target, "resolve", resolve)
    return table


INTERNAL = [
    ("127.0.0.1", "loopback"), ("127.5.5.5", "loopback"), ("10.0.0.7", "private"), ("172.16.3.4", "private"),
    ("192.168.1.10", "private"), ("100.64.0.1", "not a public"), ("169.254.169.254", "link-local"),
    ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"), ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
    ("fc00::5", "private"), ("fd12:3456::1", "private"), ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "127.0.0.1 is a loopback"), ("::ffff:10.1.2.3", "10.1.2.3 is a private"),
    ("::ffff:169.254.169.254", "link-local"), ("2002:7f00:1::1", "127.0.0.1 is a loopback"),
    ("64:ff9b::a00:1", "10.0.0.1 is a private"),
]


@pytest.mark.parametrize(("address", "why"), INTERNAL)
def test_a_host_resolving_to_an_internal_address_is_refused(dns: dict[str, list[str]], address: str,
                                                            why: str) -> None:
    dns["hooks.example.test"] = [address]
    with pytest.raises(webhook_target.TargetRefused, match=why):
        webhook_target.check("https://hooks.example.test/services/x")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://[::ffff:10.0.0.1]/",
                                 "https://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://[fe80::1]/"])
def test_an_internal_address_written_in_the_url_is_refused(dns: dict[str, list[str]], url: str) -> None:
    with pytest.raises(webhook_target.TargetRefused, match="public addresses"):
        webhook_target.check(url)


def test_one_internal_address_among_public_ones_is_enough_to_refuse(dns: dict[str, list[str]]) -> None:
    dns["hooks.example.test"] = [PUBLIC, "2606:2800:220:1::1", "10.0.0.1"]
    with pytest.raises(webhook_target.TargetRefused, match="10.0.0.1 is a private"):
        webhook_target.check("https://hooks.example.test/x")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://hooks.example.test/x", "http:// or https://"), ("file:///etc/passwd", "http:// or https://"),
    ("gopher://hooks.example.test/", "http:// or https://"),
    ("https://user:pass@hooks.example.test/x", "No user name or password"),
    ("https://token@hooks.example.test/x", "No user name or password"),
    ("https://nowhere.example.test/x", "does not resolve"), ("https://hooks.example.test:99999/", "port"),
])
def test_schemes_credentials_and_unresolvable_hosts_are_refused(dns: dict[str, list[str]], url: str,
                                                               why: str) -> None:
    dns["hooks.example.test"] = [PUBLIC]
    with pytest.raises(webhook_target.TargetRefused, match=why):
        webhook_target.check(url)


def test_a_public_host_passes_with_the_address_to_connect_to(dns: dict[str, list[str]]) -> None:
    dns["hooks.example.test"] = [PUBLIC, "2606:2800:220:1::1"]
    target = webhook_target.check("https://hooks.example.test/services/T0/B0?x=1")
    assert (target.https, target.host, target.port, target.path, target.address) == (
        True, "hooks.example.test", 443, "/services/T0/B0?x=1", PUBLIC)


def test_allowing_private_addresses_lets_loopback_and_private_through_but_not_link_local(
        dns: dict[str, list[str]], settings: Any) -> None:
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    for address in ["127.0.0.1", "10.0.0.7", "::1", "::ffff:192.168.0.2"]:
        dns["dev.example.test"] = [address]
        assert webhook_target.check("http://dev.example.test:8080/").address == address
    for address in ["169.254.169.254", "0.0.0.0", "224.0.0.1", "fe80::1"]:
        dns["dev.example.test"] = [address]
        with pytest.raises(webhook_target.TargetRefused):
            webhook_target.check("http://dev.example.test/")


def test_the_admin_refuses_to_save_an_internal_webhook(client: Client, dns: dict[str, list[str]]) -> None:
    ops = as_role(client, "fleet_manager")
    dns["metadata.example.test"] = ["169.254.169.254"]
    dns["hooks.example.test"] = [PUBLIC]
    for url, why in [("http://metadata.example.test/latest", "169.254.169.254 is a link-local address"),
                     ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
                     ("https://me:secret@hooks.example.test/x", "No user name or password")]:
        page = ops.post(ENDPOINTS + "add/", form(url=url)).content.decode()
        assert why in page, url
    assert not AlertEndpoint.objects.exists()
    assert ops.post(ENDPOINTS + "add/", form(url="https://hooks.example.test/x")).status_code == 302
    assert AlertEndpoint.objects.get().url == "https://hooks.example.test/x"


def _attempt(endpoint: AlertEndpoint) -> AlertDeliveryAttempt:
    alert = services.ops_alert_open(vehicle_id=VehicleFactory.create().id, kind="tamper", severity="critical")
    (delivery,) = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0)
    alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0)
    return AlertDeliveryAttempt.objects.get(delivery=delivery)


def test_a_host_that_resolves_internally_by_send_time_is_refused_then(
        dns: dict[str, list[str]], receiver: Receiver) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    dns["hooks.example.test"] = [PUBLIC]
    endpoint = AlertEndpoint.objects.create(name="Rebound", url=f"http://hooks.example.test:{port}/hook",
                                            min_severity="info")
    webhook_target.check(endpoint.url)  # fine when saved
    dns["hooks.example.test"] = ["127.0.0.1"]  # DNS rebinding: now it points inside
    attempt = _attempt(endpoint)
    assert not attempt.ok and attempt.error.startswith("Refused: Webhooks may only go to public addresses")
    assert receiver.requests == []


def test_the_post_goes_to_the_checked_address_with_the_url_host(
        dns: dict[str, list[str]], receiver: Receiver, settings: Any) -> None:
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True  # the stand-in receiver is local
    port = receiver.url.split(":")[2].split("/")[0]
    dns["hooks.example.test"] = ["127.0.0.1"]
    endpoint = AlertEndpoint.objects.create(name="Local", url=f"http://hooks.example.test:{port}/hook?t=1",
                                            min_severity="info")
    assert _attempt(endpoint).ok
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hooks.example.test:{port}"


def test_redirects_are_not_followed(dns: dict[str, list[str]], receiver: Receiver, settings: Any) -> None:
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    receiver.statuses = [302]
    endpoint = AlertEndpoint.objects.create(name="Moved", url=receiver.url, min_severity="info")
    attempt = _attempt(endpoint)
    assert (attempt.ok, attempt.status_code, attempt.error) == (False, 302, "HTTP 302: redirects are not followed")
    assert len(receiver.requests) == 1

