"""Importing a city's MDS 2.0 Policy + Geography into zones: validation, the mapping of every rule type, the rules
not enforced, idempotent re-import, newer versions, atomicity, the command, the admin flow and the cap figures."""

from __future__ import annotations

import copy
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone

from fleet.mds_policy import documents, fetch, mapping
from fleet.models import VehicleType, Zone
from fleet.selectors import policy_import as policy_selectors
from fleet.selectors import zone_caps
from fleet.selectors import zones as zone_selectors
from fleet.services import policy_import as policy_services
from fleet.states import Status
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory, ZoneFactory, square
from tests.fleet.test_permissions import member

DATA = Path(__file__).parent / "data"
POLICIES, GEOGRAPHIES = DATA / "berlin_policies.json", DATA / "berlin_geographies.json"
P1 = "39a46f41-4a4a-4b06-b6ec-5a7d8e6a8c01"
P2 = "5d1c3a0e-8f1b-4a7e-9c55-2b0d6e4f7a02"
RULE = {name: f"{i:08x}-6b2e-4c4a-9d4e-0a1b2c3d4e5f" for i, name in enumerate(
    ["no_ride", "no_parking", "slow", "slow_mph", "cap", "fleet_size", "idle", "helmets", "weekend", "fee", "drop",
     "moped", "tram_stops"], start=0xA0000001)}
GEO = {"tiergarten": "e0e4a085-7a50-43e0-afa4-6792ca897c5a", "spree": "0c77c813-bece-4e8a-84fd-f99af777d198",
       "alex": "a1b2c3d4-0000-4a5b-8c9d-0e1f2a3b4c5d", "hbf": "d4e5f6a7-1111-4b2c-9d3e-4f5a6b7c8d9e",
       "mitte": "b4bcc213-4888-48ce-a33d-4dd6c3384bda", "city": "1f943d59-ccc9-4d91-b6e2-0c5e771cbc49"}
ZONES = "/admin/fleet/zone/"
IMPORT = "/admin/fleet/zone/import-mds-policy/"
APPLY = "/admin/fleet/zone/import-mds-policy/apply/"
CATALOG = [mapping.VehicleTypeInfo("scooter", "scooter_standing", "electric"),
           mapping.VehicleTypeInfo("bike", "bicycle", "electric_assist")]


def policies() -> dict[str, Any]:
    return json.loads(POLICIES.read_text())


def geographies() -> dict[str, Any]:
    return json.loads(GEOGRAPHIES.read_text())


def docs(policy_doc: dict[str, Any] | None = None) -> documents.Documents:
    return documents.combine([("policies.json", policy_doc or policies()), ("geographies.json", geographies())])


def newer_version(**changes: Any) -> dict[str, Any]:
    """Version 2 of the Berlin policy (prev_policies: version 1): Alexanderplatz at 8 km/h, the Spree no-parking
    rule gone, a new no-ride rule for the Hauptbahnhof."""
    doc = policies()
    policy = doc["policies"][0]
    policy.update(policy_id=P2, prev_policies=[P1], name="Berlin micromobility rules 2026 v2",
                  published_date=policy["published_date"] + 86_400_000, start_date=policy["start_date"] + 86_400_000,
                  **changes)
    rules = [r for r in policy["rules"] if r["rule_id"] != RULE["no_parking"]]
    next(r for r in rules if r["rule_id"] == RULE["slow"])["maximum"] = 8
    rules.append({"name": "No riding at the Hauptbahnhof", "rule_id": str(uuid.UUID(int=7)), "rule_type": "count",
                  "rule_units": "devices", "geographies": [GEO["hbf"]], "states": {"on_trip": []}, "maximum": 0})
    policy["rules"] = rules
    return doc


def imported(city: Any) -> dict[str, Zone]:
    """The city's imported zones by rule id."""
    return {str(z.mds_rule_id): z for z in Zone.objects.filter(city=city, mds_policy_id__isnull=False)}


@pytest.fixture
def berlin(city: Any) -> Any:
    VehicleTypeFactory.create(code="scooter", form_factor="scooter_standing", propulsion_type="electric")
    VehicleTypeFactory.create(code="bike", form_factor="bicycle", propulsion_type="electric_assist",
                              max_permitted_speed_kph=25)
    return city


# -- documents and schemas -----------------------------------------------------------------------------------


def test_the_sample_documents_are_valid_mds() -> None:
    assert documents.schema_errors("policies", policies()) == []
    assert documents.schema_errors("geographies", geographies()) == []
    for policy in policies()["policies"]:
        assert documents.schema_errors("policy_object", policy) == []
    for geography in geographies()["geographies"]:
        assert documents.schema_errors("geography_object", geography) == []
        assert documents.schema_errors("geography", {"version": "2.0.0", "geography": geography}) == []


def test_invalid_documents_say_where_and_what() -> None:
    doc = policies()
    policy = doc["policies"][0]
    del policy["published_date"]  # an unpublished draft
    policy["rules"][0]["rule_type"] = "rate"  # MDS 1.x; in 2.0 rates are fields of count/time/speed rules
    policy["rules"][2]["rule_units"] = "knots"
    policy["rules"][3]["start_time"] = "7 am"
    with pytest.raises(documents.PolicyDocumentInvalid) as caught:
        docs(doc)
    message = caught.value.detail_message
    assert message.startswith("policies.json: not valid MDS 2.0 (policies):")
    assert "policies[0]: 'published_date' is a required property" in message
    assert "policies[0].rules[0].rule_type: 'rate' is not one of 'count', 'time', 'speed', 'user'" in message
    assert "policies[0].rules[2].rule_units: 'knots' is not one of ['mph', 'kph'] (a speed rule)" in message
    assert "policies[0].rules[3].start_time: '7 am' does not match" in message
    assert caught.value.code == "policy_document_invalid"


def test_documents_that_do_not_fit_together_are_refused() -> None:
    with pytest.raises(documents.PolicyDocumentInvalid, match="refer to geographies that are not in the documents"):
        documents.combine([("policies.json", policies())])
    with pytest.raises(documents.PolicyDocumentInvalid, match="No policy in the documents"):
        documents.combine([("geographies.json", geographies())])
    with pytest.raises(documents.PolicyDocumentInvalid, match="not an MDS Policy or Geography document"):
        documents.combine([("x.json", {"type": "FeatureCollection", "features": []})])
    with pytest.raises(documents.PolicyDocumentInvalid, match=r"x.json: not JSON: .* line 1 column 2"):
        documents.parse(b"{oops", source="x.json")


def test_a_bare_policy_with_single_geography_responses_reads_like_the_list_responses() -> None:
    policy = policies()["policies"][0]
    singles = [(g["geography_id"], {"version": "2.0.0", "geography": g}) for g in geographies()["geographies"]]
    pair = documents.combine([("policy.json", policy), *singles])
    combined = documents.combine([("all.json", {**policies(), **geographies()})])
    assert pair.policies == combined.policies == docs().policies
    assert pair.geographies == combined.geographies == docs().geographies


# -- the mapping (pure) --------------------------------------------------------------------------------------


def test_every_rule_type_maps_to_a_zone_or_to_the_not_enforced_list() -> None:
    plan = mapping.build_plan(documents=docs(), existing=[], catalog=CATALOG, now=timezone.now())
    zones = {c.source.rule_id: c.fields for c in plan.of("create")}
    assert {rule: (f.kind, f.ride_start_allowed, f.ride_end_allowed, f.ride_through_allowed) for rule, f in
            zones.items() if f.kind in ("no_ride", "no_parking")} == {
        RULE["no_ride"]: ("no_ride", False, False, False), RULE["no_parking"]: ("no_parking", True, False, True)}
    assert (zones[RULE["slow"]].maximum_speed_kph, zones[RULE["slow"]].vehicle_types) == (10, ("scooter",))
    assert zones[RULE["slow_mph"]].maximum_speed_kph == 19  # 12 mph = 19.3 km/h, rounded down
    assert (zones[RULE["cap"]].kind, zones[RULE["cap"]].vehicle_cap) == ("cap", 3)
    assert (zones[RULE["fleet_size"]].kind, zones[RULE["fleet_size"]].vehicle_cap) == ("cap", 3000)
    assert set(zones) == {RULE[r] for r in ("no_ride", "no_parking", "slow", "slow_mph", "cap", "fleet_size")}
    first = zones[RULE["no_ride"]]
    assert first.priority == mapping.PRIORITY_BASE and first.starts_at == datetime(2025, 12, 1, 0, 30, tzinfo=UTC)
    assert first.geometry["type"] == "MultiPolygon" and first.ends_at is None

    reasons = {(n.rule_id, n.what.split(" ")[0]) for n in plan.not_enforced}
    assert reasons == {
        (RULE["no_ride"], "rider"),  # messages
        (RULE["fleet_size"], "minimum"), (RULE["fleet_size"], "counted"),  # a minimum; on_trip in the counted states
        (RULE["idle"], "time"), (RULE["helmets"], "information"), (RULE["weekend"], "schedule"),
        (RULE["fee"], "rate"), (RULE["drop"], "maximum"), (RULE["moped"], "vehicle"), (RULE["tram_stops"], "geography"),
    }
    by_rule = {n.rule_id: n for n in plan.not_enforced}
    assert by_rule[RULE["weekend"]].what == "schedule (fri, sat 22:00:00-06:00:00)"
    assert "provider_drop_off" in by_rule[RULE["drop"]].what
    assert by_rule[RULE["tram_stops"]].why == "it has no polygon (points or lines)"


@pytest.mark.parametrize(("states", "kind"), [
    ({"on_trip": []}, "no_ride"),
    ({"available": ["trip_end"]}, "no_parking"),
    ({"available": [], "reserved": [], "removed": []}, "no_parking"),
    ({"available": ["provider_drop_off"]}, None),
    ({"removed": []}, None),
])
def test_maximum_zero_follows_the_counted_states(states: dict[str, list[str]], kind: str | None) -> None:
    doc = policies()
    rule = doc["policies"][0]["rules"][1]
    rule["states"] = states
    doc["policies"][0]["rules"] = [rule]
    plan = mapping.build_plan(documents=docs(doc), existing=[], catalog=CATALOG, now=timezone.now())
    assert [c.fields.kind for c in plan.changes] == ([kind] if kind else [])
    assert bool(plan.not_enforced) == (kind is None or "removed" in states)


# -- applying ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_creates_zones_that_remember_their_source_and_the_geofence_uses_them(berlin: Any) -> None:
    plan = policy_services.policy_import(city=berlin, documents=docs())
    assert len(plan.of("create")) == 6
    zones = imported(berlin)
    no_ride = zones[RULE["no_ride"]]
    assert (str(no_ride.mds_policy_id), str(no_ride.mds_geography_id)) == (P1, GEO["tiergarten"])
    assert [t.code for t in zones[RULE["slow"]].vehicle_types.all()] == ["scooter"]
    fence = zone_selectors.geofence_for_city(berlin.id)
    assert fence.evaluate(13.34, 52.52).ride_through_allowed is False  # Tiergarten
    assert fence.evaluate(13.405, 52.518).ride_end_allowed is False  # Spree riverbank
    assert fence.evaluate(13.412, 52.522, "scooter").maximum_speed_kph == 10  # Alexanderplatz, scooters only
    at_hbf = fence.evaluate(13.367, 52.525)  # the cap zone counts vehicles but decides nothing
    assert at_hbf.ride_end_allowed is True and str(zones[RULE["cap"]].id) in at_hbf.zone_ids
    feed = zone_selectors.gbfs_geofencing_zones(city_id=berlin.id)
    assert len(feed["data"]["geofencing_zones"]["features"]) == 4  # not the 2 cap zones
    ZoneFactory.create(city=berlin, kind="no_parking", ride_end_allowed=False, priority=100,
                       geometry=square(13.36, 52.52, 0.02))  # made by hand, after the cap zone in precedence
    zone_selectors.clear_geofence_cache()
    assert zone_selectors.geofence_for_city(berlin.id).evaluate(13.367, 52.525).ride_end_allowed is False


@pytest.mark.django_db
def test_importing_the_same_document_again_changes_nothing(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    before = {z.id: z.updated_at for z in Zone.objects.all()}
    plan = policy_services.policy_import(city=berlin, documents=docs())
    assert (plan.has_changes, len(plan.of("unchanged"))) == (False, 6)
    assert {z.id: z.updated_at for z in Zone.objects.all()} == before


@pytest.mark.django_db
def test_a_newer_version_updates_the_zones_of_the_policy_it_replaces(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    first = imported(berlin)
    plan = policy_services.policy_import(city=berlin, documents=docs(newer_version()))
    assert {c.action for c in plan.changes if c.source.rule_id == RULE["slow"]} == {"update"}
    zones = {str(z.mds_rule_id): z for z in Zone.objects.filter(city=berlin)}
    slow = zones[RULE["slow"]]
    assert slow.id == first[RULE["slow"]].id  # the same zone, now from version 2
    assert (slow.maximum_speed_kph, str(slow.mds_policy_id)) == (8, P2)
    assert zones[RULE["no_parking"]].active is False and str(zones[RULE["no_parking"]].mds_policy_id) == P1
    assert zones[str(uuid.UUID(int=7))].kind == "no_ride"
    assert Zone.objects.filter(city=berlin, active=True, mds_policy_id=P1).count() == 0
    # Both versions in one /policies response (MDS lists retired ones too): only version 2 counts.
    both = newer_version()
    both["policies"].insert(0, policies()["policies"][0])
    again = policy_services.policy_import(city=berlin, documents=docs(both))
    assert not again.has_changes and any("replaced by a newer one" in note for note in again.notes)
    # The old document alone, later: version 2 replaced it, it does not come back.
    old = policy_services.policy_import(city=berlin, documents=docs())
    assert not old.has_changes and any("imported earlier; it is not imported again" in n for n in old.notes)
    assert Zone.objects.filter(city=berlin, active=True, mds_policy_id=P1).count() == 0


@pytest.mark.django_db
def test_a_newer_policy_with_empty_rules_revokes_the_old_one(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    revocation = newer_version()
    revocation["policies"][0]["rules"] = []  # the policy text's way to end a policy (the schema wants 1 rule)
    plan = policy_services.policy_import(city=berlin, documents=docs(revocation))
    assert (len(plan.of("deactivate")), plan.of("create")) == (6, [])
    assert not Zone.objects.filter(city=berlin, active=True).exists()
    alone = policies()
    alone["policies"][0]["rules"] = []
    with pytest.raises(documents.PolicyDocumentInvalid, match=r"policies\[0\]\.rules: \[\] should be non-empty"):
        docs(alone)


@pytest.mark.django_db
def test_a_replaced_geography_keeps_its_zone(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    before = imported(berlin)[RULE["slow"]]
    geos = geographies()
    alex = copy.deepcopy(next(g for g in geos["geographies"] if g["geography_id"] == GEO["alex"]))
    alex.update(geography_id=str(uuid.UUID(int=9)), prev_geographies=[GEO["alex"]], name="Alexanderplatz (larger)",
                geography_json={"type": "FeatureCollection", "features": [
                    {"type": "Feature", "properties": {}, "geometry": square(13.405, 52.515, 0.015)}]})
    geos["geographies"].append(alex)
    doc = newer_version()
    next(r for r in doc["policies"][0]["rules"] if r["rule_id"] == RULE["slow"])["geographies"] = [alex["geography_id"]]
    policy_services.policy_import(city=berlin, documents=documents.combine([("p", doc), ("g", geos)]))
    after = Zone.objects.get(id=before.id)
    assert (str(after.mds_geography_id), after.maximum_speed_kph) == (alex["geography_id"], 8)
    assert after.geometry["coordinates"][0][0][0] == [13.405, 52.515] and after.name.endswith("(larger)")


@pytest.mark.django_db
def test_an_ended_policy_deactivates_its_zones(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    ended = newer_version(end_date=int((timezone.now() - timedelta(hours=1)).timestamp() * 1000))
    plan = policy_services.policy_import(city=berlin, documents=docs(ended))
    assert len(plan.of("deactivate")) == 6 and not plan.of("create")
    assert not Zone.objects.filter(city=berlin, active=True).exists()


@pytest.mark.django_db
def test_a_failing_change_leaves_no_zone_half_written(berlin: Any) -> None:
    policy_services.policy_import(city=berlin, documents=docs())
    before = list(Zone.objects.order_by("id").values())
    plan = policy_selectors.policy_plan(city=berlin, documents=docs(newer_version()))
    update = next(c for c in plan.changes if c.action == "update")
    broken = mapping.Change("create", mapping.Source(P2, str(uuid.uuid4()), GEO["hbf"]), "broken",
                            mapping.ZoneFields(**{**update.fields.__dict__, "kind": "cap", "vehicle_cap": None}))
    plan.changes.append(broken)  # last: every other change was written before it fails
    with pytest.raises(IntegrityError, match="zone_cap_has_vehicle_cap"):
        policy_services.policy_plan_apply(city=berlin, plan=plan)
    assert list(Zone.objects.order_by("id").values()) == before


@pytest.mark.django_db
def test_a_plan_that_moved_since_the_preview_is_refused(berlin: Any) -> None:
    preview = policy_selectors.policy_plan(city=berlin, documents=docs())
    policy_services.policy_import(city=berlin, documents=docs())  # someone else applied it meanwhile
    before = list(Zone.objects.order_by("id").values())
    with pytest.raises(policy_services.PolicyPlanStale) as caught:
        policy_services.policy_import(city=berlin, documents=docs(newer_version()), expected_digest=preview.digest())
    assert (caught.value.code, caught.value.status) == ("policy_plan_stale", 409)
    assert list(Zone.objects.order_by("id").values()) == before


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_document_at_once_create_its_zones_once(berlin: Any) -> None:
    from django.db import connection

    barrier, plans, errors = threading.Barrier(3), [], []
    documents_ = docs()

    def run() -> None:
        try:
            barrier.wait()
            plans.append(policy_services.policy_import(city=berlin, documents=documents_))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(p.of("create")) for p in plans) == [0, 0, 6]  # the city lock serialises them
    assert Zone.objects.filter(city=berlin).count() == 6


# -- the command ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_prints_the_plan_and_applies_only_with_apply(berlin: Any) -> None:
    out = StringIO()
    call_command("import_mds_policy", "--city", "berlin", str(POLICIES), str(GEOGRAPHIES), stdout=out)
    text = out.getvalue()
    assert "6 to create, 0 to update, 0 to deactivate, 0 unchanged; 10 rule part(s) not enforced" in text
    assert "create     No riding in Tiergarten · Tiergarten park: no_ride" in text
    assert "- Idle time while rentable: time limit 0-5 days in available" in text
    assert "Nothing changed (dry run)" in text and not Zone.objects.exists()
    out = StringIO()
    call_command("import_mds_policy", "--city", "berlin", str(POLICIES), str(GEOGRAPHIES), "--apply", stdout=out)
    assert "Zones of Berlin updated." in out.getvalue() and len(imported(berlin)) == 6
    out = StringIO()
    call_command("import_mds_policy", "--city", "berlin", str(POLICIES), str(GEOGRAPHIES), "--apply", stdout=out)
    assert "Nothing to change" in out.getvalue() and Zone.objects.count() == 6


@pytest.mark.django_db
def test_command_errors_name_the_problem(berlin: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No city with slug 'paris'"):
        call_command("import_mds_policy", "--city", "paris", str(POLICIES))
    bad = tmp_path / "policies.json"
    doc = policies()
    doc["policies"][0]["rules"][2]["maximum"] = "ten"
    bad.write_text(json.dumps(doc))
    with pytest.raises(CommandError, match=r"(?s)policy_document_invalid: .*rules\[2\]\.maximum: 'ten' is not of type"):
        call_command("import_mds_policy", "--city", "berlin", str(bad), str(GEOGRAPHIES), "--apply")
    with pytest.raises(CommandError, match="policy_source_unreadable: http://example.invalid/p.json: only https"):
        call_command("import_mds_policy", "--city", "berlin", "http://example.invalid/p.json")
    assert not Zone.objects.exists()


# -- fetching URLs (a local server: the network edge, real) ---------------------------------------------------


@pytest.fixture
def server() -> Iterator[str]:
    body = POLICIES.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path == "/policies":
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.mds+json;version=2.0")
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_reads_a_url_within_its_limits(server: str) -> None:
    assert json.loads(fetch.fetch(f"{server}/policies", max_bytes=1_000_000, allow_http=True)) == policies()
    with pytest.raises(fetch.PolicySourceUnreadable, match="more than 100 bytes"):
        fetch.fetch(f"{server}/policies", max_bytes=100, allow_http=True)
    with pytest.raises(fetch.PolicySourceUnreadable, match="HTTP 404"):
        fetch.fetch(f"{server}/nothing", max_bytes=1_000_000, allow_http=True)
    with pytest.raises(fetch.PolicySourceUnreadable, match="only https URLs are fetched"):
        fetch.fetch(f"{server}/policies", max_bytes=1_000_000, allow_http=False)
    with pytest.raises(fetch.PolicySourceUnreadable, match="only https"):
        fetch.fetch("file:///etc/passwd", max_bytes=1_000_000, allow_http=True)


# -- the admin -----------------------------------------------------------------------------------------------


def _upload(client: Client, city: Any, policy_doc: dict[str, Any] | None = None) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(IMPORT, {
        "city": str(city.id),
        "policy_file": SimpleUploadedFile("policies.json", json.dumps(policy_doc or policies()).encode()),
        "geography_file": SimpleUploadedFile("geographies.json", GEOGRAPHIES.read_bytes()),
    })


@pytest.mark.django_db
def test_admin_upload_previews_then_confirm_applies(client: Client, staff: Any, berlin: Any) -> None:
    client.force_login(staff)
    assert IMPORT in client.get(ZONES).content.decode()  # the button on the zone list
    assert client.get(IMPORT).status_code == 200
    r = _upload(client, berlin)
    page = r.content.decode()
    assert r.status_code == 200 and "6 to create, 0 to update" in page
    assert "No riding in Tiergarten · Tiergarten park" in page and "Rules not enforced (10)" in page
    assert "zones do not track how long vehicles stay in a state" in page
    assert not Zone.objects.exists()  # a preview writes nothing
    r = client.post(APPLY, {"token": r.context["token"], "digest": r.context["digest"]})
    assert r.status_code == 302 and r["Location"] == f"{ZONES}?city__id__exact={berlin.id}"
    assert len(imported(berlin)) == 6
    assert "MDS Policy imported into Berlin: 6 to create" in client.get(r["Location"]).content.decode()


@pytest.mark.django_db
def test_admin_shows_what_is_wrong_and_refuses_stale_or_expired_previews(client: Client, staff: Any,
                                                                         berlin: Any) -> None:
    client.force_login(staff)
    doc = policies()
    doc["policies"][0]["rules"][0]["geographies"] = ["not-a-uuid"]
    page = _upload(client, berlin, doc).content.decode()
    assert "policies[0].rules[0].geographies[0]: &#x27;not-a-uuid&#x27; is not a &#x27;uuid&#x27;" in page
    preview = _upload(client, berlin)
    ZoneFactory.create(city=berlin)  # not an imported zone: does not move the plan
    policy_services.policy_import(city=berlin, documents=docs())  # someone applied it meanwhile: this does
    count = Zone.objects.count()
    r = client.post(APPLY, {"token": preview.context["token"], "digest": preview.context["digest"]})
    assert r.status_code == 200 and "The zones changed since this import was previewed" in r.content.decode()
    assert Zone.objects.count() == count
    r = client.post(APPLY, {"token": "forged", "digest": preview.context["digest"]}, follow=True)
    assert "This import preview has expired" in r.content.decode() and Zone.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "allowed"), [("support_agent", False), ("fleet_manager", True)])
def test_admin_import_needs_the_permission_that_edits_zones(client: Client, berlin: Any, role: str,
                                                            allowed: bool) -> None:
    client.force_login(member(role))
    assert client.get(IMPORT).status_code == (200 if allowed else 403)
    assert (IMPORT in client.get(ZONES).content.decode()) is allowed
    r = _upload(client, berlin)
    assert r.status_code == (200 if allowed else 403)
    if allowed:
        token, digest = r.context["token"], r.context["digest"]
        client.force_login(member("support_agent"))  # someone else cannot confirm it
        assert client.post(APPLY, {"token": token, "digest": digest}).status_code == 403
    assert not Zone.objects.exists()


# -- caps as compliance figures ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_caps_count_vehicles_parked_in_the_zone(client: Client, staff: Any, berlin: Any) -> None:
    scooter = VehicleType.objects.get(code="scooter")
    zone = ZoneFactory.create(city=berlin, kind="cap", vehicle_cap=2, geometry=square(13.36, 52.52, 0.01))
    typed = ZoneFactory.create(city=berlin, kind="cap", vehicle_cap=5, geometry=square(13.36, 52.52, 0.01))
    typed.vehicle_types.set([scooter])
    inside = {"city": berlin, "lat": 52.525, "lon": 13.365}
    VehicleFactory.create_batch(2, vehicle_type=scooter, **inside)
    VehicleFactory.create(status=Status.LOW_BATTERY, **inside)  # non_operational: on the street, counted
    VehicleFactory.create(status=Status.ON_TRIP, **inside)  # riding: not parked
    VehicleFactory.create(status=Status.IN_WORKSHOP, **inside)  # removed
    VehicleFactory.create(city=berlin, lat=52.60, lon=13.365)  # outside
    assert zone_caps.zone_vehicle_counts(zones=[zone, typed]) == {zone.id: 3, typed.id: 2}
    client.force_login(staff)
    page = client.get(ZONES).content.decode()
    assert "3 / 2: 1 over the cap" in page and "2 / 5" in page
    assert "3 / 2: 1 over the cap" in client.get(f"{ZONES}{zone.id}/change/").content.decode()
