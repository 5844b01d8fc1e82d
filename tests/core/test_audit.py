"""The audit log (core.audit, docs/audit.md): append-only in the database, every registered admin audited, plain
admin edits (add, change with inlines, delete, bulk delete, list editing, role changes, secrets masked) recorded
once with their before and after, nothing left by a rolled-back edit, and a list page whose queries stay flat."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core import audit
from core.admin_audit import AuditedAdmin
from core.models import AuditEntry, AuditSource
from feeds.models import GbfsAlert, GbfsSystem
from fleet.models import AlertEndpoint, VehicleType
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory
from tests.fleet.test_permissions import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss() -> User:
    return User.objects.create_superuser(email="boss@example.com", password="x" * 12)


@pytest.fixture
def client_boss(client: Client, boss: User) -> Client:
    client.force_login(boss)
    return client


def entries(**filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """What the admin's form at ``url`` would post unchanged (its fields' current values), with ``changes``."""
    form = client.get(url).context["adminform"].form
    data: dict[str, Any] = {}
    for name, bound in form._bound_items() if hasattr(form, "_bound_items") else ((n, form[n]) for n in form.fields):
        value = bound.field.prepare_value(bound.value())
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- append-only ------------------------------------------------------------------------------------------------

def test_the_database_refuses_to_update_delete_or_truncate_an_entry(boss: User) -> None:
    entry = audit.audit_record(actor=boss, action="test.thing", object_type_label="x.y", object_id="1")
    for statement in (lambda: AuditEntry.objects.filter(pk=entry.pk).update(reason="edited"),
                      lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
                      lambda: entry.delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL freewheel.audit_truncate = 'deny'")  # the test runner's flush may; nobody else
        cursor.execute("TRUNCATE core_auditentry")
    entry.refresh_from_db()
    assert entry.reason == "" and AuditEntry.objects.count() == 1


def test_nobody_may_add_change_or_delete_an_entry_in_the_admin(client_boss: Client, boss: User) -> None:
    entry = audit.audit_record(actor=boss, action="test.thing", object_type_label="x.y", object_id="1")
    model_admin = admin.site.get_model_admin(AuditEntry)
    request = client_boss.get("/admin/core/auditentry/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert client_boss.post(f"/admin/core/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("fleet_manager", 403), ("support_agent", 403),
                                              ("finance", 403), ("field_technician", 403)])
def test_only_admins_and_superusers_read_the_log(client: Client, role: str, status: int) -> None:
    client.force_login(member(role))
    assert client.get("/admin/core/auditentry/").status_code == status


# --- every admin is audited -------------------------------------------------------------------------------------

def test_every_registered_model_admin_records_its_edits() -> None:
    registered = [m for m in apps.get_models() if admin.site.is_registered(m)]
    assert len(registered) > 30
    missing = [m._meta.label for m in registered if not isinstance(admin.site.get_model_admin(m), AuditedAdmin)]
    assert missing == []


# --- plain admin edits --------------------------------------------------------------------------------------------

def test_add_change_delete_are_one_entry_each_with_before_and_after(client_boss: Client, boss: User) -> None:
    add = "/admin/fleet/vehicletype/add/"
    r = client_boss.post(add, form_data(client_boss, add, code="cargo", name="Cargo bike", form_factor="cargo_bicycle",
                                        propulsion_type="human"), REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 302, r.content.decode()[:2000]
    kind = VehicleType.objects.get(code="cargo")
    [added] = entries(action="admin.add")
    assert (added.actor, added.actor_label, added.object_type, added.object_id) == (
        boss, "boss@example.com", "fleet.vehicletype", str(kind.pk))
    assert added.after["name"] == "Cargo bike" and added.before == {}
    assert (added.source, added.ip, len(added.request_id)) == (AuditSource.ADMIN, "203.0.113.9", 32)

    url = f"/admin/fleet/vehicletype/{kind.pk}/change/"
    assert client_boss.post(url, form_data(client_boss, url, name="Longtail")).status_code == 302
    [changed] = entries(action="admin.change")
    assert (changed.before, changed.after) == ({"name": "Cargo bike"}, {"name": "Longtail"})

    assert client_boss.post(f"/admin/fleet/vehicletype/{kind.pk}/delete/", {"post": "yes"}).status_code == 302
    [deleted] = entries(action="admin.delete")
    assert deleted.before["name"] == "Longtail" and deleted.after == {} and deleted.object_id == str(kind.pk)
    assert AuditEntry.objects.count() == 3


def test_bulk_delete_is_one_entry_per_object_and_its_confirmation_page_none(client_boss: Client) -> None:
    kinds = [VehicleTypeFactory.create(code=f"k{i}") for i in range(2)]
    data = {"action": "delete_selected", "_selected_action": [str(k.pk) for k in kinds]}
    assert client_boss.post("/admin/fleet/vehicletype/", data).status_code == 200  # "are you sure?"
    assert AuditEntry.objects.count() == 0
    assert client_boss.post("/admin/fleet/vehicletype/", {**data, "post": "yes"}).status_code == 302
    assert sorted(e.before["code"] for e in entries(action="admin.delete")) == ["k0", "k1"]
    assert AuditEntry.objects.count() == 2


def test_role_changes_record_groups_and_flags_and_a_password_change_is_masked(client_boss: Client) -> None:
    member("admin")  # creates the role groups
    user = UserFactory.create(email="tech@example.com")
    url = f"/admin/accounts/user/{user.pk}/change/"
    data = page_form(client_boss, url)
    data.update(is_staff="on", groups=[str(Group.objects.get(name="field_technician").pk)])
    r = client_boss.post(url, data)
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    [change] = entries(action="admin.change", object_id=str(user.pk))
    assert change.before == {"is_staff": False, "groups": []}
    assert change.after == {"is_staff": True, "groups": ["field_technician"]}

    r = client_boss.post(f"/admin/accounts/user/{user.pk}/password/",
                         {"password1": "a-new-Secret-9", "password2": "a-new-Secret-9", "usable_password": "true"})
    assert r.status_code == 302
    password = entries(action="admin.change", object_id=str(user.pk))[-1]
    assert (password.before, password.after) == ({"password": audit.MASK}, {"password": audit.MASK})
    assert "a-new-Secret" not in str(password.after) and "pbkdf2" not in str(password.after)


def test_an_alert_endpoint_secret_edit_is_recorded_masked(client_boss: Client) -> None:
    endpoint = AlertEndpoint.objects.create(name="Ops Slack", url="https://93.184.215.14/hook",
                                            secret="old-secret-value")
    url = f"/admin/fleet/alertendpoint/{endpoint.pk}/change/"
    r = client_boss.post(url, form_data(client_boss, url, secret="new-secret-value"))
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    [change] = entries(action="admin.change")
    assert (change.before["secret"], change.after["secret"]) == (audit.MASK, audit.MASK)
    assert "secret-value" not in str(change.before) + str(change.after)


def test_an_edit_rolled_back_leaves_no_entry(boss: User) -> None:
    kind = VehicleTypeFactory.create(code="x")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.audit_record(actor=boss, action="admin.change", obj=kind, before={"name": "X"}, after={"name": "Y"})
        raise RuntimeError("the save failed after the entry was written")
    assert AuditEntry.objects.count() == 0


# --- the log in the admin ---------------------------------------------------------------------------------------

def test_the_list_filters_searches_and_an_objects_page_links_to_its_entries(client_boss: Client, boss: User) -> None:
    city = CityFactory.create(name="Berlin")
    vehicle = VehicleFactory.create(city=city, code="AUD001")
    audit.audit_record(actor=boss, action="fleet.command", obj=vehicle, after={"command": "lock"}, reason="stolen?")
    audit.audit_record(actor=boss, action="admin.change", object_type_label="x.y", object_id="7",
                       object_repr="something else")
    listing = client_boss.get("/admin/core/auditentry/").content.decode()
    assert "fleet.command" in listing and "AUD001" in listing and "boss@example.com" in listing
    for query in ({"q": str(vehicle.pk)}, {"q": "aud0"}, {"action": "fleet.command"}, {"city_id": str(city.pk)},
                  {"object_type": "fleet.vehicle", "object_id": str(vehicle.pk)}):
        html = client_boss.get("/admin/core/auditentry/", query).content.decode()
        assert "AUD001" in html and "something else" not in html, query
    assert "something else" in client_boss.get("/admin/core/auditentry/", {"q": "boss@"}).content.decode()
    page = client_boss.get(f"/admin/fleet/vehicle/{vehicle.pk}/change/").content.decode()
    assert f"/admin/core/auditentry/?object_type=fleet.vehicle&amp;object_id={vehicle.pk}" in page
    entry = AuditEntry.objects.get(action="fleet.command")
    detail = client_boss.get(reverse("admin:core_auditentry_change", args=[entry.pk])).content.decode()
    assert "<th scope=\"col\">before</th>" in detail and "lock" in detail and "stolen?" in detail


def test_the_list_reads_as_many_queries_for_2_entries_as_for_40(client_boss: Client, boss: User,
                                                                django_assert_max_num_queries: Any) -> None:
    def count() -> int:
        from django.db import connection as conn
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(conn) as queries:
            assert client_boss.get("/admin/core/auditentry/").status_code == 200
        return len(queries)

    vehicle = VehicleFactory.create()
    for _ in range(2):
        audit.audit_record(actor=boss, action="fleet.command", obj=vehicle)
    few = count()
    for _ in range(38):
        audit.audit_record(actor=boss, action="fleet.command", obj=vehicle)
    assert count() == few


def test_a_deleted_actor_keeps_its_label(boss: User) -> None:
    staff = UserFactory.create(is_staff=True, email="gone@example.com")
    entry = audit.audit_record(actor=staff, action="test.thing", object_type_label="x.y", object_id="1")
    staff.delete()  # no constraint, no cascade: the entry is neither blocked nor changed
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor_label == "gone@example.com" and entry.actor_id is not None


class _FormFields(HTMLParser):
    """The fields a browser would post from the page's change form (``id="<model>_form"``)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._select: str | None = None
        self._multiple = False
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("id") or "").endswith("_form"):
            self._in_form = True
        if not self._in_form or not a.get("name"):
            if tag == "option" and self._select and "selected" in a:
                value = a.get("value") or ""
                if self._multiple:
                    self.data[self._select].append(value)
                else:
                    self.data[self._select] = value
            return
        name = str(a["name"])
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value") or "on"
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select":
            self._select, self._multiple = name, "multiple" in a
            self.data[name] = [] if self._multiple else ""
        elif tag == "textarea":
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            if self._multiple and not self.data.get(self._select or ""):
                self.data.pop(self._select or "", None)  # a browser posts nothing for an empty multiple select
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n")


def page_form(client: Client, url: str) -> dict[str, Any]:
    parser = _FormFields()
    parser.feed(client.get(url).content.decode())
    return parser.data


def test_inline_objects_added_and_changed_are_in_the_parents_one_entry(client_boss: Client) -> None:
    system = GbfsSystem.objects.create(system_id="fw_audit", city=CityFactory.create(), name="Freewheel",
                                       feed_contact_email="feeds@example.com")
    alert = GbfsAlert.objects.create(system=system, summary="Station closed", starts_at=timezone.now())
    url = f"/admin/feeds/gbfssystem/{system.pk}/change/"
    data = page_form(client_boss, url)
    prefix = next(k for k in data if k.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    assert data[f"{prefix}-0-summary"] == "Station closed"
    data[f"{prefix}-0-summary"] = "Station reopened"
    data.update({f"{prefix}-TOTAL_FORMS": "2", f"{prefix}-1-summary": "Marathon on Sunday", f"{prefix}-1-type": "other",
                 f"{prefix}-1-starts_at_0": "2026-12-13", f"{prefix}-1-starts_at_1": "08:00:00"})
    data["name"] = "Freewheel Berlin"
    r = client_boss.post(url, data)
    assert r.status_code == 302, r.context["errors"] if r.context else r
    [entry] = entries(action="admin.change")
    assert entry.before["name"] == "Freewheel" and entry.after["name"] == "Freewheel Berlin"
    changed = f"GBFS alert «{GbfsAlert.objects.get(pk=alert.pk)}» summary"  # named as it reads after the save
    assert (entry.before[changed], entry.after[changed]) == ("Station closed", "Station reopened")
    added = next(v for k, v in entry.after.items() if k.endswith("added"))
    assert added["summary"] == "Marathon on Sunday"
    assert GbfsAlert.objects.count() == 2 and AuditEntry.objects.count() == 1
