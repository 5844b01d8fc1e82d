"""Django admin for users: list, search, filters, block/unblock with a reason, permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/accounts/user/"
# The management form of the page's Cities box (console adds it to the user admin) as a browser sends it when the
# box is left alone: no form, so no change to the user's cities.
CITIES_UNTOUCHED = {"staff_cities-TOTAL_FORMS": "0", "staff_cities-INITIAL_FORMS": "0"}


@pytest.fixture
def superuser_client(client):  # type: ignore[no-untyped-def]
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True, email="boss@example.com"))
    return client


def test_changelist_searches_email_phone_and_name(superuser_client):
    UserFactory.create(email="findme@example.com", name="Zed Q", phone="+4915112345678")
    UserFactory.create(email="other@example.com", name="Other")
    for q in ("findme", "+4915112345678", "Zed"):
        page = superuser_client.get(LIST, {"q": q}).content.decode()
        assert "findme@example.com" in page and "other@example.com" not in page


def test_changelist_filters_by_status_staff_and_group(superuser_client):
    blocked = UserFactory.create(email="blocked@example.com", status="blocked")
    agent = UserFactory.create(email="agent@example.com", is_staff=True)
    agent.groups.add(Group.objects.get(name="support_agent"))
    assert "blocked@example.com" in superuser_client.get(LIST, {"status__exact": "blocked"}).content.decode()
    assert (
        "agent@example.com" not in superuser_client.get(LIST, {"status__exact": "blocked"}).content.decode()
    )
    staff_page = superuser_client.get(LIST, {"is_staff__exact": "1"}).content.decode()
    assert "agent@example.com" in staff_page and blocked.email not in staff_page
    group = Group.objects.get(name="support_agent")
    assert "agent@example.com" in superuser_client.get(LIST, {"groups__id__exact": group.pk}).content.decode()


def test_block_asks_for_a_reason_then_blocks(superuser_client):
    a, b = UserFactory.create(), UserFactory.create()
    form = superuser_client.post(LIST, {"action": "block_users", "_selected_action": [a.pk, b.pk]})
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    a.refresh_from_db()
    assert a.status == "active"
    done = superuser_client.post(
        LIST,
        {"action": "block_users", "_selected_action": [a.pk, b.pk], "apply": "1", "reason": "card fraud"},
    )
    assert done.status_code == 302
    for user in (a, b):
        user.refresh_from_db()
        assert (user.status, user.blocked_reason, user.is_active) == ("blocked", "card fraud", False)


def test_block_without_a_reason_shows_the_form_again(superuser_client):
    a = UserFactory.create()
    r = superuser_client.post(
        LIST, {"action": "block_users", "_selected_action": [a.pk], "apply": "1", "reason": ""}
    )
    assert r.status_code == 200 and "This field is required" in r.content.decode()
    a.refresh_from_db()
    assert a.status == "active"


def test_unblock(superuser_client):
    a = UserFactory.create(status="blocked", blocked_reason="x", is_active=False)
    assert (
        superuser_client.post(LIST, {"action": "unblock_users", "_selected_action": [a.pk]}).status_code
        == 302
    )
    a.refresh_from_db()
    assert (a.status, a.blocked_reason, a.is_active) == ("active", "", True)


def test_support_agent_sees_users_but_cannot_block(client):
    agent = UserFactory.create(is_staff=True)
    agent.groups.add(Group.objects.get(name="support_agent"))
    client.force_login(agent)
    victim = UserFactory.create()
    assert client.get(LIST).status_code == 200
    client.post(LIST, {"action": "block_users", "_selected_action": [victim.pk], "apply": "1", "reason": "x"})
    victim.refresh_from_db()
    assert victim.status == "active"
    assert client.get(f"{LIST}{victim.pk}/change/").status_code == 200  # view only
    assert client.post(f"{LIST}{victim.pk}/change/", {"name": "hacked"}).status_code == 403


def test_groups_are_editable_on_the_change_page(superuser_client):
    user = UserFactory.create(is_staff=True)
    page = superuser_client.get(f"{LIST}{user.pk}/change/").content.decode()
    assert 'name="groups"' in page
    finance = Group.objects.get(name="finance")
    r = superuser_client.post(
        f"{LIST}{user.pk}/change/",
        {
            "email": user.email,
            "name": user.name,
            "phone": "",
            "date_of_birth": "1990-01-01",
            "is_staff": "on",
            "groups": [finance.pk],
            **CITIES_UNTOUCHED,
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert list(User.objects.get(pk=user.pk).groups.values_list("name", flat=True)) == ["finance"]


def test_add_user_lowercases_email_and_refuses_case_duplicates(superuser_client):
    UserFactory.create(email="taken@example.com")
    r = superuser_client.post(
        f"{LIST}add/",
        {
            "email": "TAKEN@example.com",
            "usable_password": "true",
            "password1": "Secret-pass-123",
            "password2": "Secret-pass-123",
        },
    )
    assert r.status_code == 200
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    r = superuser_client.post(
        f"{LIST}add/",
        {
            "email": "New@Example.com",
            "usable_password": "true",
            "password1": "Secret-pass-123",
            "password2": "Secret-pass-123",
        },
    )
    assert r.status_code == 302
    assert User.objects.filter(email="new@example.com").exists()


def test_block_and_unblock_are_in_the_admin_history(superuser_client):
    from django.contrib.admin.models import LogEntry

    a = UserFactory.create()
    superuser_client.post(
        LIST, {"action": "block_users", "_selected_action": [a.pk], "apply": "1", "reason": "spam"}
    )
    superuser_client.post(LIST, {"action": "unblock_users", "_selected_action": [a.pk]})
    messages = list(
        LogEntry.objects.filter(object_id=str(a.pk))
        .order_by("action_time")
        .values_list("change_message", flat=True)
    )
    assert messages == ["Blocked: spam", "Unblocked"]


def test_a_phone_typed_in_the_admin_is_not_verified(superuser_client):
    from django.utils import timezone

    user = UserFactory.create(phone="+4915112345678", phone_verified_at=timezone.now())
    r = superuser_client.post(
        f"{LIST}{user.pk}/change/",
        {"email": user.email, "name": user.name, "phone": "+33 6 12 34 56 78", "date_of_birth": "1990-01-01",
         **CITIES_UNTOUCHED},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    user.refresh_from_db()
    assert (user.phone, user.phone_verified_at) == ("+33612345678", None)
