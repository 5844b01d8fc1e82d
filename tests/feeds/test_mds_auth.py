"""MDS agency credentials: bearer tokens stored hashed, revocable, scoped to the agency's cities; the command and the
admin that issue them."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.services import roles as roles_service
from feeds.mds import services
from feeds.models import Agency, AgencyCredential, MdsPull
from fleet.models import City
from tests.accounts.factories import UserFactory
from tests.conftest import Api
from tests.feeds.conftest import MdsClient
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_its_hash(agency: Agency) -> None:
    credential, token = services.credential_issue(agency=agency)
    assert token.startswith(f"mds_{credential.prefix}_") and len(token) > 40
    stored = AgencyCredential.objects.get(id=credential.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {getattr(stored, f.attname) for f in AgencyCredential._meta.concrete_fields}


@pytest.mark.parametrize(("authorization", "code"), [
    (None, "not_authenticated"),
    ("Bearer mds_00000000_not-a-token-we-issued", "authentication_failed"),
    ("Bearer", "authentication_failed"),
    ("Bearer two words", "authentication_failed"),
])
def test_a_missing_or_unknown_token_is_401_in_the_mds_error_shape(
    anonymous_mds_client: MdsClient, agency: Agency, authorization: str | None, code: str
) -> None:
    r = anonymous_mds_client.get("/mds/vehicles", HTTP_AUTHORIZATION=authorization or "")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == 'Bearer realm="mds"'
    body = r.json()
    assert (body["version"], body["error"]) == ("2.0.0", code)
    assert body["error_description"] and body["error_details"]
    pull = MdsPull.objects.get()
    assert (pull.status, pull.agency, pull.error, pull.rows) == (401, None, code, None)


def test_a_revoked_token_is_refused_at_once(mds_client: MdsClient, agency: Agency) -> None:
    assert mds_client.get("/mds/vehicles").status_code == 200
    credential = agency.credentials.get()
    assert services.credential_revoke(credential_id=credential.id) is True
    assert services.credential_revoke(credential_id=credential.id) is False  # already revoked: nothing changes

    r = mds_client.get("/mds/vehicles")

    assert (r.status_code, r.json()["error"]) == (401, "authentication_failed")
    credential.refresh_from_db()
    assert credential.revoked_at is not None


def test_a_riders_jwt_is_not_an_mds_credential(rider: Any, api: Api) -> None:
    r = api.as_(rider).get("/mds/vehicles", HTTP_ACCEPT="application/vnd.mds+json;version=2.0")
    assert (r.status_code, r.json()["error"]) == (401, "authentication_failed")


def test_last_used_is_recorded_at_most_once_a_minute(mds_client: MdsClient, agency: Agency) -> None:
    credential = agency.credentials.get()
    assert credential.last_used_at is None
    mds_client.get("/mds/vehicles")
    credential.refresh_from_db()
    first = credential.last_used_at
    assert first is not None
    mds_client.get("/mds/vehicles")
    credential.refresh_from_db()
    assert credential.last_used_at == first
    AgencyCredential.objects.filter(id=credential.id).update(last_used_at=first - timedelta(minutes=2))
    mds_client.get("/mds/vehicles")
    credential.refresh_from_db()
    assert credential.last_used_at is not None and credential.last_used_at > first


def test_an_agency_sees_only_its_cities(mds_client: MdsClient, mds_city: City, other_city: City) -> None:
    theirs = VehicleFactory.create(city=other_city)

    r = mds_client.get(f"/mds/vehicles/{theirs.id}")
    assert (r.status_code, r.json()["error"]) == (404, "vehicle_not_found")
    r = mds_client.get("/mds/vehicles", {"city": other_city.slug})
    assert (r.status_code, r.json()["error"], r.json()["error_details"]) == (404, "city_not_found", ["city"])
    r = mds_client.get("/mds/vehicles", {"city": "no-such-city"})
    assert (r.status_code, r.json()["error"]) == (404, "city_not_found")  # the same answer: nothing revealed
    assert MdsPull.objects.filter(status=404).count() == 3


def test_an_agency_of_several_cities_sees_them_together_or_one_with_city(
    mds_client: MdsClient, agency: Agency, mds_city: City, other_city: City
) -> None:
    services.agency_ensure(name=agency.name, city_slugs=[other_city.slug])
    here, there = VehicleFactory.create(city=mds_city), VehicleFactory.create(city=other_city)

    both = {v["device_id"] for v in mds_client.get("/mds/vehicles").json()["vehicles"]}
    one = {v["device_id"] for v in mds_client.get("/mds/vehicles", {"city": other_city.slug}).json()["vehicles"]}

    assert both == {str(here.id), str(there.id)}
    assert one == {str(there.id)}
    by_id = {v["device_id"] for v in mds_client.get("/mds/vehicles", {"city": str(other_city.id)}).json()["vehicles"]}
    assert by_id == one
    assert MdsPull.objects.order_by("id").last().city_slugs == other_city.slug  # type: ignore[union-attr]


def test_an_agency_with_no_city_sees_nothing(db: Any) -> None:
    agency = services.agency_ensure(name="Nowhere")
    client = MdsClient().with_token(services.credential_issue(agency=agency)[1])
    r = client.get("/mds/vehicles")
    assert (r.status_code, r.json()["error"]) == (403, "no_city_in_scope")


def test_the_command_creates_the_agency_and_prints_only_the_token(mds_city: City, other_city: City) -> None:
    out = StringIO()
    call_command("mds_agency_token", "--city", mds_city.slug, "--city", other_city.slug, "--name", "Region", stdout=out)
    token = out.getvalue().strip()
    assert "\n" not in token and token.startswith("mds_")

    agency = Agency.objects.get(name="Region")
    assert set(agency.cities.values_list("slug", flat=True)) == {mds_city.slug, other_city.slug}
    r = MdsClient().with_token(token).get("/mds/vehicles")
    assert r.status_code == 200

    out = StringIO()
    call_command("mds_agency_token", "--city", mds_city.slug, "--name", "Region", stdout=out)
    assert out.getvalue().strip() != token
    assert Agency.objects.filter(name="Region").count() == 1
    assert agency.credentials.count() == 2


def test_the_command_refuses_an_unknown_city_and_writes_nothing(mds_city: City) -> None:
    with pytest.raises(CommandError, match="no-such-city"):
        call_command("mds_agency_token", "--city", mds_city.slug, "--city", "no-such-city", "--name", "X",
                     stdout=StringIO())
    assert not Agency.objects.exists()
    assert not AgencyCredential.objects.exists()


def test_the_admin_issues_a_token_shown_once_and_revokes_it(client: Any, agency: Agency) -> None:
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(staff)

    r = client.post("/admin/feeds/agency/", {"action": "issue_token", "_selected_action": [str(agency.id)]})

    assert r.status_code == 200 and "no-store" in r["Cache-Control"]  # the admin never caches its pages
    credential = agency.credentials.get()
    html = r.content.decode()
    token = html.split(f"mds_{credential.prefix}_", 1)[1].split("<", 1)[0]
    token = f"mds_{credential.prefix}_{token}"
    assert MdsClient().with_token(token).get("/mds/vehicles").status_code == 200
    assert token not in client.get(f"/admin/feeds/agency/{agency.id}/change/").content.decode()

    r = client.post("/admin/feeds/agencycredential/", {"action": "revoke", "_selected_action": [str(credential.id)]})
    assert r.status_code == 302
    assert MdsClient().with_token(token).get("/mds/vehicles").status_code == 401
    assert client.get("/admin/feeds/mdspull/").status_code == 200


def test_a_fleet_manager_sees_agencies_and_pulls_but_cannot_issue_or_revoke(client: Any, agency: Agency,
                                                                            mds_token: str) -> None:
    roles_service.roles_sync()  # the groups as feeds/roles.py declares them
    manager = UserFactory.create(is_staff=True)
    manager.groups.add(Group.objects.get(name="fleet_manager"))
    client.force_login(manager)
    credential = agency.credentials.get()

    assert client.get("/admin/feeds/mdspull/").status_code == 200
    assert client.get("/admin/feeds/agency/").status_code == 200
    client.post("/admin/feeds/agency/", {"action": "issue_token", "_selected_action": [str(agency.id)]})
    client.post("/admin/feeds/agencycredential/", {"action": "revoke", "_selected_action": [str(credential.id)]})

    assert list(agency.credentials.all()) == [credential]
    credential.refresh_from_db()
    assert credential.revoked_at is None
    assert MdsClient().with_token(mds_token).get("/mds/vehicles").status_code == 200


def test_the_demo_agency_pulls_the_demo_city_with_the_printed_token(db: Any) -> None:
    from feeds import demo
    from fleet import demo as fleet_demo

    out = StringIO()
    fleet_demo.load(stdout=out)
    demo.load(stdout=out)
    demo.load(stdout=out)  # idempotent

    assert demo.DEMO_TOKEN in out.getvalue()
    assert AgencyCredential.objects.filter(prefix=demo.DEMO_TOKEN_PREFIX).count() == 1
    r = MdsClient().with_token(demo.DEMO_TOKEN).get("/mds/vehicles/status")
    assert r.status_code == 200
    assert len(r.json()["vehicles_status"]) == fleet_demo.N_VEHICLES
