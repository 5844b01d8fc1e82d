"""How a socket authenticates: header, bearer subprotocol, single-use ticket; /ws/v1/me notifications."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from core import push
from tests.live.conftest import bearer, communicator, opened, receive, run, token

pytestmark = pytest.mark.django_db(transaction=True)

TICKET_URL = "/api/v1/ws-ticket"


def test_ticket_opens_one_socket_once(api, rider):
    response = api.as_(rider).post(TICKET_URL)
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert response.json()["expires_in"] == 30

    async def body() -> None:
        comm = communicator(f"/ws/v1/me?ticket={ticket}")
        assert (await comm.connect())[0] is True
        assert (await receive(comm))["data"] == {"user_id": str(rider.id)}
        await comm.disconnect()
        again = communicator(f"/ws/v1/me?ticket={ticket}")
        assert (await again.connect())[0] is False  # single use
        await again.disconnect()

    run(body)


def test_ticket_needs_a_signed_in_caller_and_expires(api, rider, settings):
    refused = api.anonymous().post(TICKET_URL)
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "not_authenticated")
    ticket = api.as_(rider).post(TICKET_URL).json()["ticket"]
    cache.delete(f"live:ticket:{ticket}")  # what the TTL does after LIVE_TICKET_TTL_S

    async def body() -> None:
        comm = communicator(f"/ws/v1/me?ticket={ticket}")
        assert (await comm.connect())[0] is False
        await comm.disconnect()

    run(body)


def test_bearer_subprotocol_is_accepted_and_never_echoed(rider):
    async def body() -> None:
        comm = communicator("/ws/v1/me", subprotocols=["freewheel.v1", f"bearer.{token(rider)}"])
        connected, subprotocol = await comm.connect()
        assert (connected, subprotocol) == (True, "freewheel.v1")
        await comm.disconnect()
        bad = communicator("/ws/v1/me", subprotocols=["freewheel.v1", "bearer.nope"])
        assert (await bad.connect())[0] is False
        await bad.disconnect()

    run(body)


def test_a_foreign_origin_is_refused_but_no_origin_is_fine(rider):
    async def body() -> None:
        evil = communicator("/ws/v1/me", bearer(rider) + [(b"origin", b"https://evil.example")])
        assert (await evil.connect())[0] is False
        await evil.disconnect()
        local = communicator("/ws/v1/me", bearer(rider) + [(b"origin", b"http://localhost")])
        assert (await local.connect())[0] is True
        await local.disconnect()

    run(body)


def test_blocked_account_is_refused(rider):
    headers = bearer(rider)
    rider.status = "blocked"
    rider.save(update_fields=["status"])

    async def body() -> None:
        comm = communicator("/ws/v1/me", headers)
        assert (await comm.connect())[0] is False
        await comm.disconnect()

    run(body)


def test_me_socket_gets_the_users_notifications_only(rider, other_rider):
    async def body() -> None:
        comm = communicator("/ws/v1/me", bearer(rider))
        assert (await comm.connect())[0] is True
        await receive(comm)
        await sync_to_async(push.to_user)(other_rider.id, "notification", {"title": "not yours"})
        await sync_to_async(push.to_user)(rider.id, "notification", {"title": "Ride receipt"})
        message = await receive(comm)
        assert (message["type"], message["seq"], message["data"]) == ("notification", 2, {"title": "Ride receipt"})
        await comm.disconnect()

    run(body)


def test_a_ticket_issued_before_a_password_change_opens_nothing(api, rider):
    from tests.accounts.factories import PASSWORD

    ticket = api.as_(rider).post(TICKET_URL).json()["ticket"]
    changed = api.as_(rider).post("/api/v1/me/password", {"old_password": PASSWORD,
                                                          "new_password": "a-brand-new-passphrase-42"}, format="json")
    assert changed.status_code == 200, changed.json()

    rider.refresh_from_db()
    fresh = api.as_(rider).post(TICKET_URL).json()["ticket"]  # a session signed in with the new password

    async def body() -> None:
        comm = communicator(f"/ws/v1/me?ticket={ticket}")
        assert (await comm.connect())[0] is False  # closed before accept: Daphne answers HTTP 403 (docs/live.md)
        await comm.disconnect()
        ok = communicator(f"/ws/v1/me?ticket={fresh}")
        assert (await ok.connect())[0] is True
        await ok.disconnect()

    run(body)


def test_a_deeply_nested_client_message_is_ignored_and_the_socket_lives_on(rider):
    async def body() -> None:
        comm, _ = await opened("/ws/v1/me", rider)
        await comm.send_to(text_data="[" * 100_000 + "]" * 100_000)  # json.loads: RecursionError in receive
        await comm.send_to(text_data='{"type": "ping"}')
        assert (await receive(comm))["type"] == "pong"
        await comm.disconnect()

    run(body)
