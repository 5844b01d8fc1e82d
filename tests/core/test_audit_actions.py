"""Each staff action of issue 22 leaves exactly one audit entry per object it acts on, with the right actor,
before/after, reason and source, whether done in the admin, on a console page or through the API; a refused or
failed action leaves none; a rider's own action is no staff action (docs/audit.md)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from core import audit
from core.models import AuditEntry, AuditSource
from feeds.models import Agency, AgencyCredential
from fleet import services as fleet_services
from rides.models import RideState
from tests.accounts.factories import UserFactory
from tests.console.test_support import action_url, as_role, charged, confirm
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member
from tests.rides.test_ride_page import a_ride

pytestmark = pytest.mark.django_db

TASKS, ALERTS = "/api/v1/ops/tasks", "/api/v1/ops/alerts"


@pytest.fixture(autouse=True)
def recording_gateway(settings: Any) -> None:
    settings.VEHICLE_GATEWAY = "tests.fleet.gateways.RecordingGateway"


@pytest.fixture
def vehicle() -> Any:
    return VehicleFactory.create(city=CityFactory.create(slug="berlin", name="Berlin", currency="EUR"),
                                 code="AUD001")


def only(action: str) -> AuditEntry:
    """The one entry of ``action``, and it is the only entry there is."""
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [action]
    return AuditEntry.objects.get()


# --- support's actions on the rider page (console) ------------------------------------------------------------

def test_goodwill_on_the_rider_page(vehicle: Any) -> None:
    rider = UserFactory.create()
    client, agent = as_role("support_agent")
    r, sent = confirm(client, action_url(rider, "goodwill"), amount="5.00", currency="EUR", reason="late unlock")
    assert r.status_code == 302
    client.post(action_url(rider, "goodwill"), sent)  # a double submit does nothing more
    entry = only("billing.goodwill")
    assert (entry.actor, entry.object_type, entry.object_id, entry.reason, entry.source) == (
        agent, "accounts.user", str(rider.pk), "late unlock", AuditSource.CONSOLE)
    assert (entry.after["bonus credit"], entry.after["currency"]) == ("5.00", "EUR")


def test_goodwill_above_the_limit_leaves_no_entry(settings: Any) -> None:
    settings.BILLING_STAFF_APPROVAL_LIMIT = Decimal("10")
    client, _ = as_role("support_agent")
    r, _sent = confirm(client, action_url(UserFactory.create(), "goodwill"), amount="50.00", currency="EUR",
                       reason="x")
    assert r.status_code == 200 and not AuditEntry.objects.exists()


def test_refund_on_the_rider_page_and_a_refused_one(vehicle: Any) -> None:
    ride = charged(vehicle)
    client, finance = as_role("finance")
    r, _sent = confirm(client, action_url(ride.rider, "refund", ride), amount="999.00", reason="x")
    assert r.status_code == 200 and not AuditEntry.objects.exists()  # refused: more than is left
    r, _sent = confirm(client, action_url(ride.rider, "refund", ride), amount="1.00", reason="brakes felt weak")
    assert r.status_code == 302
    entry = only("billing.refund")
    assert (entry.actor, entry.object_type, entry.reason) == (finance, "billing.refund", "brakes felt weak")
    assert (entry.after["ride"], entry.after["amount"], entry.after["status"]) == (str(ride.pk), "1.00", "succeeded")


def test_force_end_block_unblock_and_receipt_on_the_rider_page(vehicle: Any) -> None:
    from fleet.models import Vehicle

    ride = a_ride(vehicle, ended=False)
    Vehicle.objects.filter(pk=vehicle.pk).update(status="on_trip", trip_id=ride.pk)
    client, admin_member = as_role("admin")
    r, _ = confirm(client, action_url(ride.rider, "force_end", ride), reason="rider lost their phone")
    assert r.status_code == 302
    entry = only("rides.force_end")
    assert (entry.object_id, entry.before, entry.reason) == (str(ride.pk), {"state": ride.state},
                                                             "rider lost their phone")
    assert entry.after["state"] in (RideState.ENDED, RideState.CANCELLED) and entry.city_id == vehicle.city_id

    rider = UserFactory.create()
    confirm(client, action_url(rider, "block"), reason="fraudulent chargebacks")
    confirm(client, action_url(rider, "unblock"), reason="explained")
    block, unblock = AuditEntry.objects.filter(object_id=str(rider.pk)).order_by("id")
    assert (block.action, block.before, block.after, block.reason) == (
        "accounts.block", {"status": "active", "blocked_reason": "", "is_active": True},
        {"status": "blocked", "blocked_reason": "fraudulent chargebacks", "is_active": False},
        "fraudulent chargebacks")
    assert (unblock.action, unblock.after["status"], unblock.actor) == ("accounts.unblock", "active", admin_member)

    paid = charged(VehicleFactory.create(city=vehicle.city))
    confirm(client, action_url(paid.rider, "receipt", paid), reason="asked by email")
    receipt = AuditEntry.objects.get(action="billing.receipt_resend")
    assert (receipt.object_type, receipt.object_id) == ("rides.ride", str(paid.pk))
    assert AuditEntry.objects.count() == 4


def test_a_support_note(vehicle: Any) -> None:
    rider = UserFactory.create()
    client, agent = as_role("support_agent")
    page = client.get(f"/admin/support/riders/{rider.pk}/").content.decode()
    import re
    submission = re.search(r'name="submission" value="([0-9a-f-]{36})"', page)
    assert submission is not None
    data = {"text": "called about a double charge", "submission": submission.group(1)}
    client.post(f"/admin/support/riders/{rider.pk}/notes", data)
    client.post(f"/admin/support/riders/{rider.pk}/notes", data)  # twice: one note, one entry
    entry = only("console.support_note")
    assert (entry.actor, entry.object_id, entry.after) == (agent, str(rider.pk),
                                                           {"note": "called about a double charge"})


# --- the staff API ---------------------------------------------------------------------------------------------

def test_refund_goodwill_and_force_end_through_the_api(api: Any, vehicle: Any) -> None:
    ride = charged(vehicle)
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    r = api.as_(staff).post(f"/api/v1/billing/rides/{ride.pk}/refunds", {"amount": {"amount": "1.00", "currency": "EUR"},
                                                                       "reason": "bumpy"},
                            format="json", REMOTE_ADDR="198.51.100.7")
    assert r.status_code == 201, r.json()
    refund = only("billing.refund")
    assert (refund.source, refund.ip, refund.actor) == (AuditSource.API, "198.51.100.7", staff)
    assert r["X-Request-ID"] == refund.request_id

    r = api.post("/api/v1/billing/goodwill", {"user": str(ride.rider_id), "reason": "sorry",
                                                "amount": {"amount": "2.00", "currency": "EUR"}},
                 format="json")
    assert r.status_code == 201, r.json()
    assert AuditEntry.objects.filter(action="billing.goodwill", source=AuditSource.API).count() == 1

    open_ride = a_ride(VehicleFactory.create(city=vehicle.city), ended=False)
    from fleet.models import Vehicle

    Vehicle.objects.filter(pk=open_ride.vehicle_id).update(status="on_trip", trip_id=open_ride.pk)
    r = api.post(f"/api/v1/rides/{open_ride.pk}/force-end", {"reason": "stuck"}, format="json")
    assert r.status_code == 200, r.json()
    assert AuditEntry.objects.filter(action="rides.force_end", object_id=str(open_ride.pk), reason="stuck").count() == 1
    assert AuditEntry.objects.count() == 3


def test_commands_through_the_api_and_the_admin_but_not_a_riders_unlock(api: Any, client: Client) -> None:
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    vehicle = VehicleFactory.create()
    r = api.as_(staff).post(f"/api/v1/vehicles/{vehicle.id}/commands", {"kind": "locate"})
    assert r.status_code == 202
    entry = only("fleet.command")
    assert (entry.object_id, entry.after["command"], entry.source, entry.city_id) == (
        str(vehicle.pk), "locate", AuditSource.API, vehicle.city_id)

    others = [VehicleFactory.create(), VehicleFactory.create()]
    client.force_login(staff)
    selected = {"action": "lock_vehicles", "_selected_action": [str(v.pk) for v in others]}
    actions = client.get("/admin/fleet/vehicle/").context["action_form"].fields["action"].choices
    lock = next(name for name, label in actions if "lock" in str(name) and "unlock" not in str(name))
    selected["action"] = lock
    page = client.post("/admin/fleet/vehicle/", selected)
    assert page.status_code == 200 and AuditEntry.objects.count() == 1  # the confirmation page: nothing yet
    token = page.context["command_token"] if "command_token" in page.context else uuid.uuid4().hex
    client.post("/admin/fleet/vehicle/", {**selected, "confirm": "1", "command_token": token})
    locks = AuditEntry.objects.filter(action="fleet.command", source=AuditSource.ADMIN)
    assert sorted(e.object_id for e in locks) == sorted(str(v.pk) for v in others)
    assert AuditEntry.objects.count() == 3

    rider = UserFactory.create()  # a rider's own command (its ride's unlock) is no staff action
    fleet_services.command_queue(vehicle_id=vehicle.id, kind="locate", actor=rider)
    assert AuditEntry.objects.count() == 3


def test_tasks_and_alerts_through_the_api(api: Any) -> None:
    tech = member("field_technician")
    vehicle = VehicleFactory.create()
    api.as_(tech)
    r = api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "repair", "reason": "loose handlebar"}, format="json")
    task_id = r.json()["id"]
    api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "repair"}, format="json")  # the open one: no new entry
    api.post(f"{TASKS}/{task_id}/assign")
    api.post(f"{TASKS}/{task_id}/notes", {"text": "bolt missing"}, format="json")
    assert api.patch(f"{TASKS}/{task_id}", {"priority": 1}, format="json").status_code == 200
    api.patch(f"{TASKS}/{task_id}", {"priority": 1}, format="json")  # unchanged: no second entry
    api.post(f"{TASKS}/{task_id}/close", {"outcome": "cancelled", "note": "fixed on the spot"}, format="json")
    got = list(AuditEntry.objects.filter(object_id=task_id).order_by("id").values_list("action", "actor"))
    assert got == [("fleet.task_create", tech.pk), ("fleet.task_assign", tech.pk), ("fleet.task_note", tech.pk),
                   ("fleet.task_priority", tech.pk), ("fleet.task_close", tech.pk)]
    priority = AuditEntry.objects.get(action="fleet.task_priority")
    assert priority.before["priority"] != 1 and priority.after == {"priority": 1}
    close = AuditEntry.objects.get(action="fleet.task_close")
    assert (close.before, close.after) == ({"state": "assigned"}, {"state": "cancelled", "outcome": "fixed on the spot"})

    alert = fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper")
    assert api.post(f"{ALERTS}/{alert.id}/resolve").status_code == 200
    assert api.post(f"{ALERTS}/{alert.id}/resolve").status_code == 200  # resolved already: no second entry
    assert AuditEntry.objects.filter(action="fleet.alert_resolve", object_id=str(alert.id)).count() == 1
    fleet_services.ops_alert_resolve(alert_id=fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper").id)
    assert AuditEntry.objects.filter(action="fleet.alert_resolve").count() == 1  # the system's: no staff action


# --- admin actions ------------------------------------------------------------------------------------------------

def test_block_and_rotate_and_mds_tokens_in_the_admin_are_one_entry_each(client: Client) -> None:
    boss = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(boss)
    rider = UserFactory.create()
    r = client.post("/admin/accounts/user/", {"action": "block_users", "_selected_action": [str(rider.pk)],
                                               "apply": "1", "reason": "chargebacks"})
    assert r.status_code == 302
    entry = only("accounts.block")  # not also the action's note in Django's history
    assert (entry.reason, entry.source) == ("chargebacks", AuditSource.ADMIN)

    vehicle = VehicleFactory.create()
    client.post("/admin/fleet/vehicle/", {"action": "rotate_credential", "_selected_action": [str(vehicle.pk)]})
    rotate = AuditEntry.objects.get(action="fleet.credential_rotate")
    assert rotate.after == {"secret_hash": audit.MASK} and rotate.object_id == str(vehicle.pk)

    agency = Agency.objects.create(name="City of Berlin")
    client.post("/admin/feeds/agency/", {"action": "issue_token", "_selected_action": [str(agency.pk)]})
    issued = AuditEntry.objects.get(action="feeds.credential_issue")
    credential = AgencyCredential.objects.get()
    assert (issued.object_id, issued.after["token_hash"]) == (str(credential.pk), audit.MASK)
    client.post("/admin/feeds/agencycredential/", {"action": "revoke", "_selected_action": [str(credential.pk)]})
    assert AuditEntry.objects.filter(action="feeds.credential_revoke", object_id=str(credential.pk)).count() == 1
    assert AuditEntry.objects.count() == 4


def test_an_action_that_records_nothing_itself_gets_one_generic_entry(client: Client) -> None:
    from fleet.models import AlertEndpoint

    boss = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(boss)
    endpoint = AlertEndpoint.objects.create(name="Ops Slack", url="https://93.184.215.14/hook")
    client.post("/admin/fleet/alertendpoint/", {"action": "send_test", "_selected_action": [str(endpoint.pk)]})
    entry = only("admin.action")
    assert (entry.object_type, entry.object_id, entry.reason, entry.after["selected"]) == (
        "fleet.alertendpoint", str(endpoint.pk), "send_test", [str(endpoint.pk)])


# --- management commands an operator runs ---------------------------------------------------------------------

def test_a_token_issued_and_zones_imported_at_the_shell_are_recorded_as_commands(tmp_path: Any) -> None:
    import getpass
    import io
    import json

    from django.core.management import call_command

    city = CityFactory.create(slug="hamburg", name="Hamburg")
    call_command("mds_agency_token", "--name", "Hamburg BVM", "--city", "hamburg", stdout=io.StringIO())
    entry = only("feeds.credential_issue")
    assert (entry.actor_id, entry.actor_label, entry.source) == (
        None, f"{getpass.getuser()}: manage.py mds_agency_token", AuditSource.COMMAND)
    assert entry.after["token_hash"] == audit.MASK

    square = {"type": "Polygon", "coordinates": [[[10.0, 53.5], [10.01, 53.5], [10.01, 53.51], [10.0, 53.5]]]}
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square, "properties": {"kind": "no_parking", "name": "Jungfernstieg"}}]}
    (tmp_path / "zones.json").write_text(json.dumps(collection))
    call_command("import_zones", "hamburg", str(tmp_path / "zones.json"), stdout=io.StringIO())
    imported = AuditEntry.objects.get(action="fleet.zones_import")
    assert (imported.object_id, imported.city_id, imported.after["zones"]) == (str(city.pk), city.pk, ["Jungfernstieg"])
    assert imported.source == AuditSource.COMMAND and AuditEntry.objects.count() == 2


def test_a_staff_members_cities_are_a_role_change() -> None:
    from fleet import services

    boss = UserFactory.create(is_staff=True, is_superuser=True)
    tech = UserFactory.create(is_staff=True)
    berlin, hamburg = CityFactory.create(name="Berlin"), CityFactory.create(name="Hamburg")
    before = AuditEntry.objects.count()
    services.staff_cities_set(user=tech, cities=[berlin], all_cities=False, by=boss)
    services.staff_cities_set(user=tech, cities=[berlin], all_cities=False, by=boss)  # the same: no entry
    services.staff_cities_set(user=tech, cities=[berlin, hamburg], all_cities=False, by=boss)
    got = list(AuditEntry.objects.filter(action="fleet.staff_cities").order_by("id").values_list("before", "after"))
    assert AuditEntry.objects.count() - before == len(got) == 2
    assert got[1] == ({"cities": ["Berlin"]}, {"cities": ["Berlin", "Hamburg"]})
