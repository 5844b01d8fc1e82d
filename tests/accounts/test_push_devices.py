"""Registering app installs for pushes: PUT/GET/DELETE /api/v1/me/devices, token takeover and replacement."""

from __future__ import annotations

import pytest

from accounts.models import Device
from tests.accounts.push_fixtures import register

pytestmark = pytest.mark.django_db
URL = "/api/v1/me/devices"
BODY = {"provider": "fcm", "platform": "android", "token": "tok-1", "app_version": "3.2.0", "locale": "de-DE",
        "time_zone": "Europe/Berlin"}


def test_an_install_registers_and_a_second_registration_replaces_its_token(api, rider):
    client = api.as_(rider)
    r = client.put(f"{URL}/install-a", BODY)
    assert r.status_code == 201
    assert r.json() | {"created_at": None, "registered_at": None} == {
        "install_id": "install-a", "provider": "fcm", "platform": "android", "app_version": "3.2.0",
        "locale": "de-DE", "time_zone": "Europe/Berlin", "created_at": None, "registered_at": None,
        "last_push_at": None}
    assert "token" not in r.json()
    r = client.put(f"{URL}/install-a", {**BODY, "token": "tok-2", "app_version": "3.3.0"})
    assert (r.status_code, r.json()["app_version"]) == (200, "3.3.0")
    device = Device.objects.get(user=rider)
    assert (device.token, device.install_id) == ("tok-2", "install-a")
    assert [d["install_id"] for d in client.get(URL).json()] == ["install-a"]


def test_a_token_registered_by_another_account_moves_to_it(api, rider, other_rider):
    assert api.as_(rider).put(f"{URL}/phone", BODY).status_code == 201
    # The phone changed hands (or the rider signed in with another account): one token, one account.
    assert api.as_(other_rider).put(f"{URL}/phone", BODY).status_code == 201
    assert list(Device.objects.values_list("user_id", "token")) == [(other_rider.id, "tok-1")]
    assert api.as_(rider).get(URL).json() == []


def test_the_same_token_under_a_new_install_id_leaves_one_row(api, rider):
    client = api.as_(rider)
    client.put(f"{URL}/before-reinstall", BODY)
    client.put(f"{URL}/after-reinstall", BODY)
    assert [d["install_id"] for d in client.get(URL).json()] == ["after-reinstall"]


def test_unregistering_stops_pushes_to_that_install_only_and_twice_is_fine(api, rider, other_rider):
    register(rider, "tok-a", install_id="a")
    register(rider, "tok-b", install_id="b")
    register(other_rider, "tok-c", install_id="a")
    client = api.as_(rider)
    assert client.delete(f"{URL}/a").status_code == 204
    assert client.delete(f"{URL}/a").status_code == 204  # a retried sign-out is no error
    assert sorted(Device.objects.values_list("token", flat=True)) == ["tok-b", "tok-c"]


def test_the_locale_comes_from_accept_language_when_the_app_sends_none(api, rider):
    body = {key: value for key, value in BODY.items() if key != "locale"}
    r = api.as_(rider).put(f"{URL}/x", body, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.8")
    assert r.json()["locale"] == "de-AT"


def test_bad_input_is_refused(api, rider):
    client = api.as_(rider)
    r = client.put(f"{URL}/x", {**BODY, "provider": "apns"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_error")
    r = client.put(f"{URL}/x", {**BODY, "time_zone": "Mars/Olympus"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_error")
    assert client.put(f"{URL}/{'x' * 65}", BODY).status_code == 404  # not an install id
    assert api.anonymous().get(URL).status_code == 401
    assert not Device.objects.exists()


def test_an_account_keeps_its_ten_latest_installs(api, rider):
    for n in range(Device.MAX_PER_USER + 1):
        register(rider, f"tok-{n}", install_id=f"i{n}")
    installs = [d["install_id"] for d in api.as_(rider).get(URL).json()]
    assert len(installs) == 10 and "i0" not in installs and installs[0] == "i10"


def test_the_device_list_takes_one_query(api, rider, django_assert_num_queries):
    for n in range(3):
        register(rider, f"tok-{n}")
    client = api.as_(rider)
    client.get(URL)
    with django_assert_num_queries(2):  # the account (authentication), the devices
        assert len(client.get(URL).json()) == 3


def test_a_deleted_account_gets_no_more_pushes(api, rider):
    register(rider, "tok-1")
    assert api.as_(rider).delete("/api/v1/me").status_code == 204
    assert not Device.objects.filter(user=rider).exists()


@pytest.mark.django_db(transaction=True)
def test_two_accounts_registering_one_token_at_once_leave_one_row(rider, other_rider):
    """Both requests run at the same moment on their own connections; the unique token constraint and the retry
    in device_register leave exactly one device holding the token, whoever won."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(user):  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            register(user, "tok-shared", install_id="phone")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(user,)) for user in (rider, other_rider)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Device.objects.filter(token="tok-shared").count() == 1
