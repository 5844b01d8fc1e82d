"""The MDS framework every endpoint shares: content negotiation (406), the body's version, millisecond timestamps,
the MDS error shape, JSON:API pagination, streamed answers and the audit log of every pull."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from feeds.mds import renderers
from feeds.mds.views.base import MdsView
from feeds.models import Agency, MdsPull
from fleet.models import City
from tests.feeds import mds_schema
from tests.feeds.conftest import MDS_ACCEPT, MdsClient
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("accept", [
    "application/vnd.mds+json;version=1.2",
    "application/vnd.mds+json;version=2.1",
    "application/vnd.mds+json; version=2.0.0",  # MDS: major.minor only
    "application/vnd.mds+json;version=",
    "text/html",
    "application/vnd.mds+json;version=2.0;q=0, application/vnd.mds+json;version=1.2",
])
def test_an_unsupported_accept_version_is_406_and_nothing_is_served(mds_client: MdsClient, mds_city: City,
                                                                     agency: Agency, accept: str) -> None:
    VehicleFactory.create(city=mds_city)
    r = mds_client.get("/mds/vehicles", HTTP_ACCEPT=accept)
    assert r.status_code == 406
    assert r["Content-Type"] == MDS_ACCEPT
    body = r.json()
    assert (body["version"], body["error"]) == ("2.0.0", "unsupported_version")
    assert "vehicles" not in body
    mds_schema.validate_model(body, "response/error.yaml")
    pull = MdsPull.objects.get()
    assert (pull.status, pull.error, pull.agency) == (406, "unsupported_version", agency)


@pytest.mark.parametrize("accept", [
    None, "*/*", "application/json", "application/vnd.mds+json",
    "application/vnd.mds+json;version=2.0", 'application/vnd.mds+json; version="2.0"',
    "application/vnd.mds+json;version=1.2, application/vnd.mds+json;version=2.0;q=0.5",
])
def test_mds_2_0_is_served_when_the_accept_header_admits_it(mds_client: MdsClient, accept: str | None) -> None:
    r = mds_client.get("/mds/vehicles", HTTP_ACCEPT=accept or "")  # "": no Accept header
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.mds+json;version=2.0"
    assert r.json()["version"] == "2.0.0"
    assert {"Accept", "Authorization"} <= {v.strip() for v in r["Vary"].split(",")}


def test_without_a_valid_token_the_version_is_not_discussed(anonymous_mds_client: MdsClient) -> None:
    r = anonymous_mds_client.get("/mds/vehicles", HTTP_ACCEPT="application/vnd.mds+json;version=1.2")
    assert (r.status_code, r.json()["error"]) == (401, "not_authenticated")


def test_timestamps_are_integer_milliseconds_and_uuids_lowercase() -> None:
    moment = datetime(2026, 12, 7, 8, 0, 0, 123_999, tzinfo=UTC)
    assert renderers.ms(moment) == 1796630400123
    body = json.loads(renderers.dumps({"at": moment, "id": uuid.UUID("AAAAAAAA-0000-4000-8000-00000000000A")}))
    assert body == {"at": 1796630400123, "id": "aaaaaaaa-0000-4000-8000-00000000000a"}


def _agency_pages(client: MdsClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    pages, url = [], path
    query: dict[str, Any] | None = params
    while url:
        r = client.get(url, query)
        assert r.status_code == 200, r.json()
        pages.append(r.json())
        url, query = r.json()["links"]["next"], None
    return pages


def test_pages_follow_json_api_links_until_next_is_null(mds_client: MdsClient, mds_city: City) -> None:
    vehicles = {str(VehicleFactory.create(city=mds_city).id) for _ in range(5)}

    pages = _agency_pages(mds_client, "/mds/vehicles", "vehicles", limit=2, city=mds_city.slug)

    assert [len(p["vehicles"]) for p in pages] == [2, 2, 1]
    assert {v["device_id"] for p in pages for v in p["vehicles"]} == vehicles
    assert pages[-1]["links"]["next"] is None
    assert all(p["links"]["first"] == "http://testserver/mds/vehicles?limit=2&city=mds-city" for p in pages)
    assert "city=mds-city" in pages[0]["links"]["next"]
    for page in pages:
        mds_schema.validate(page, "/vehicles")
    assert list(MdsPull.objects.order_by("id").values_list("rows", flat=True)) == [2, 2, 1]


@pytest.mark.parametrize(("params", "detail"), [
    ({"cursor": "not-base64!"}, "cursor"),
    ({"cursor": "WyJub3QtYS11dWlkIl0"}, "cursor"),  # ["not-a-uuid"]
    ({"limit": "0"}, "limit"),
    ({"limit": "5001"}, "limit"),
    ({"limit": "ten"}, "limit"),
])
def test_a_bad_cursor_or_limit_is_400_bad_param(mds_client: MdsClient, params: dict[str, str], detail: str) -> None:
    r = mds_client.get("/mds/vehicles", params)
    assert r.status_code == 400
    assert (r.json()["error"], r.json()["error_details"]) == ("bad_param", [detail])
    mds_schema.validate_model(r.json(), "response/error.yaml")


def test_every_pull_is_audited_with_who_what_status_rows_and_duration(mds_client: MdsClient, agency: Agency,
                                                                       mds_city: City) -> None:
    VehicleFactory.create_batch(3, city=mds_city)
    before = timezone.now()

    assert mds_client.get("/mds/vehicles", {"limit": "10"}, REMOTE_ADDR="203.0.113.9").status_code == 200

    pull = MdsPull.objects.get()
    assert (pull.agency, pull.credential, pull.method, pull.path, pull.params) == (
        agency, agency.credentials.get(), "GET", "/mds/vehicles", {"limit": "10"})
    assert (pull.status, pull.rows, pull.error, pull.city_slugs, pull.client_ip) == (200, 3, "", "mds-city",
                                                                                      "203.0.113.9")
    assert before <= pull.at <= timezone.now() and pull.duration_ms >= 0


class _Stream(MdsView):
    def get(self, request: Request) -> Any:
        return self.stream("points", ({"n": n, "at": datetime(2026, 1, 1, tzinfo=UTC)} for n in range(5001)),
                           note="streamed")


class _Broken(MdsView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")


def _call(view: type[MdsView], token: str) -> Any:
    request = APIRequestFactory().get("/mds/test", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT=MDS_ACCEPT)
    return view.as_view()(request)


def _close(response: Any) -> None:
    """What the server does after the last byte or when the client leaves; without ending the test's database
    connection (request_finished would close it, as Django's test client also avoids)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_streamed_answer_is_one_json_document_and_is_audited_when_it_ends(mds_token: str) -> None:
    response = _call(_Stream, mds_token)
    assert response.streaming and response["Content-Type"] == MDS_ACCEPT
    content = iter(response.streaming_content)
    chunks = [next(content)]
    assert not MdsPull.objects.exists()  # not while the answer is being sent
    chunks += list(content)
    _close(response)

    body = json.loads(b"".join(chunks))
    assert (body["version"], body["note"], len(body["points"])) == ("2.0.0", "streamed", 5001)
    assert body["points"][-1] == {"n": 5000, "at": 1767225600000}
    assert len(chunks) > 3  # written in chunks, not as one document built in memory
    assert MdsPull.objects.get().rows == 5001


def test_a_stream_the_client_leaves_is_audited_with_what_was_sent(mds_token: str) -> None:
    response = _call(_Stream, mds_token)
    content = iter(response.streaming_content)
    next(content), next(content)  # the opening and the first chunk of records
    _close(response)
    pull = MdsPull.objects.get()
    assert (pull.status, pull.rows) == (200, 2000)


def test_a_bug_is_500_with_an_mds_error_body_and_audited(mds_token: str) -> None:
    response = _call(_Broken, mds_token)
    response.render()
    body = json.loads(response.content)
    assert response.status_code == 500
    assert (body["error"], body["version"]) == ("internal_error", "2.0.0")
    mds_schema.validate_model(body, "response/error.yaml")
    assert MdsPull.objects.get().status == 500


def test_the_schema_check_is_not_vacuous(mds_client: MdsClient, mds_city: City) -> None:
    VehicleFactory.create(city=mds_city)
    body = mds_client.get("/mds/vehicles").json()
    body["vehicles"][0]["vehicle_type"] = "hoverboard"
    with pytest.raises(AssertionError, match="hoverboard"):
        mds_schema.validate(body, "/vehicles")
    del body["links"]["next"]
    with pytest.raises(AssertionError, match="next"):
        mds_schema.validate(body, "/vehicles")




@pytest.mark.parametrize("path", ["/mds/", "/mds/nothing", "/mds/vehicles/not-a-uuid", "/mds/trips/extra"])
def test_a_path_with_no_endpoint_answers_mds_404_not_html(mds_client: MdsClient, anonymous_mds_client: MdsClient,
                                                          agency: Agency, path: str) -> None:
    r = mds_client.get(path)
    assert (r.status_code, r["Content-Type"]) == (404, MDS_ACCEPT)
    body = r.json()
    assert (body["version"], body["error"]) == ("2.0.0", "not_found")
    mds_schema.validate_model(body, "response/error.yaml")
    assert MdsPull.objects.get().status == 404
    r = anonymous_mds_client.get(path)  # no token: 401 in MDS's shape, whether the path exists or not
    assert (r.status_code, r["Content-Type"], r.json()["error"]) == (401, MDS_ACCEPT, "not_authenticated")


def test_a_nul_in_the_query_or_path_is_answered_and_logged_not_a_500(mds_client: MdsClient, agency: Agency) -> None:
    r = mds_client.get("/mds/events/recent?start_time=1&end_time=2&city=berlin%00&x=%00&x=y")
    assert (r.status_code, r.json()["error"]) == (404, "city_not_found")
    r = mds_client.get("/mds/nothing%00here")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    first, second = MdsPull.objects.order_by("at")
    assert first.params == {"start_time": "1", "end_time": "2", "city": "berlin\ufffd", "x": ["\ufffd", "y"]}
    assert (first.status, second.status, second.path) == (404, 404, "/mds/nothing\ufffdhere")
