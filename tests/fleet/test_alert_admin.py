"""The alert delivery admin: fleet managers edit endpoints (the secret is never shown back), see each delivery with
its attempts; support agents and technicians cannot see endpoints (URLs and secrets). Alerts resolved by the
system say so in the alerts list."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.services import roles
from fleet import services
from fleet.models import AlertDelivery, AlertDeliveryAttempt, AlertEndpoint
from fleet.services import alerting, webhook_target
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = "/admin/fleet/alertendpoint/"
DELIVERIES = "/admin/fleet/alertdelivery/"
ALERTS = "/admin/fleet/opsalert/"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every host name resolves to a public address: the form's address check passes."""
    monkeypatch.setattr(webhook_target, "resolve", lambda host, port: ["93.184.215.14"])


def as_role(client: Client, role: str) -> Client:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def form(**fields: Any) -> dict[str, Any]:
    data = {"name": "Berlin Slack", "active": "on", "channel": "webhook", "url": "https://hooks.example.test/x",
            "secret": "", "emails": "", "city": "", "min_severity": "warning", "send_resolved": "on"}
    return data | fields


def test_a_fleet_manager_adds_a_webhook_endpoint_and_the_secret_is_not_shown_back(client: Client) -> None:
    ops = as_role(client, "fleet_manager")
    berlin = CityFactory.create(slug="berlin", name="Berlin")
    assert "No alert endpoints" in ops.get(ENDPOINTS).content.decode()
    r = ops.post(ENDPOINTS + "add/", form(secret="topsecret", city=str(berlin.pk), kinds=["comms_lost", "tamper"]))
    assert r.status_code == 302, r.content.decode()[:2000]
    endpoint = AlertEndpoint.objects.get()
    assert (endpoint.secret, endpoint.city_id, endpoint.kinds) == ("topsecret", berlin.pk, ["comms_lost", "tamper"])
    page = ops.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert "topsecret" not in page
    # Saving again with the secret left empty keeps it.
    r = ops.post(f"{ENDPOINTS}{endpoint.pk}/change/", form(name="Renamed", city=str(berlin.pk)))
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.secret) == ("Renamed", "topsecret")
    listing = ops.get(ENDPOINTS).content.decode()
    assert "Berlin" in listing and "none yet" in listing


def test_bad_endpoints_are_refused_with_a_message(client: Client) -> None:
    ops = as_role(client, "fleet_manager")
    r = ops.post(ENDPOINTS + "add/", form(url="ftp://files.example.test/x"))
    assert r.status_code == 200 and "Use an http:// or https:// URL." in r.content.decode()
    r = ops.post(ENDPOINTS + "add/", form(channel="email", url="", emails="ops@example.test, not-an-address"))
    assert r.status_code == 200 and "Not an email address: not-an-address" in r.content.decode()
    assert not AlertEndpoint.objects.exists()


@pytest.mark.parametrize("role", ["support_agent", "field_technician"])
def test_other_roles_cannot_see_endpoints_or_deliveries(client: Client, role: str) -> None:
    staff = as_role(client, role)
    AlertEndpoint.objects.create(name="Slack", url="https://hooks.example.test/x", secret="topsecret")
    assert staff.get(ENDPOINTS).status_code == 403
    assert staff.get(DELIVERIES).status_code == 403
    assert staff.post(ENDPOINTS + "add/", form()).status_code == 403


def test_a_delivery_page_lists_its_alerts_and_every_attempt(client: Client, settings: Any) -> None:
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True  # a local port nobody listens on
    ops = as_role(client, "fleet_manager")
    endpoint = AlertEndpoint.objects.create(name="Down", url="http://127.0.0.1:9/hook")
    alert = services.ops_alert_open(vehicle_id=VehicleFactory.create(code="BER042").id, kind="tamper",
                                    severity="critical", message="lid opened")
    (delivery,) = alerting.alerts_dispatch(alert_ids=[alert.id])
    alerting.alert_delivery_attempt(delivery_id=delivery.id)
    assert AlertDeliveryAttempt.objects.count() == 1
    listing = ops.get(DELIVERIES).content.decode()
    assert "One alert" in listing and "Pending" in listing and "ConnectionRefusedError" in listing
    page = ops.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "BER042" in page and "lid opened" in page and "Connection refused" in page
    assert ops.get(f"{ENDPOINTS}").content.decode().count("1 attempts") == 1
    assert endpoint.deliveries.get() == AlertDelivery.objects.get()


def test_the_alerts_list_says_who_resolved_an_alert(client: Client) -> None:
    ops = as_role(client, "fleet_manager")
    vehicle = VehicleFactory.create()
    system = services.ops_alert_open(vehicle_id=vehicle.id, kind="comms_lost")
    services.ops_alert_resolve(alert_id=system.id, reason="comms restored")
    listing = ops.get(ALERTS + "?state=resolved").content.decode()
    assert "System: comms restored" in listing
    r = ops.get(ALERTS + "?resolved_by_system__exact=1")
    assert r.status_code == 200 and "comms restored" in r.content.decode()


def test_the_test_action_needs_the_change_permission(client: Client) -> None:
    ops = as_role(client, "fleet_manager")
    endpoint = AlertEndpoint.objects.create(name="Down", url="http://127.0.0.1:9/hook")
    r = ops.post(ENDPOINTS, {"action": "send_test", "_selected_action": [str(endpoint.pk)]}, follow=True)
    assert "test message failed" in r.content.decode()
    assert AlertDeliveryAttempt.objects.count() == 1
