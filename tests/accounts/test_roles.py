"""Staff roles as groups: collection from apps' roles.py, sync (post_migrate and command), HasPerm."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.permissions import IsAuthenticated
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts import roles
from accounts.permissions import HasPerm
from accounts.services import roles as roles_service
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


def test_migrate_created_every_role_with_its_permissions():
    """The test database was built by migrate, whose post_migrate handler synced the roles."""
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)
    assert _perms("support_agent") >= {"accounts.view_user"}
    assert _perms("admin") >= set(roles.ROLE_PERMISSIONS["admin"])
    assert "accounts.block_user" not in _perms("support_agent")


def test_collect_merges_the_declarations_of_all_apps():
    merged = roles_service.roles_collect()
    assert set(merged) >= set(roles.ROLES)
    assert set(roles.ROLE_PERMISSIONS["admin"]) <= set(merged["admin"])
    assert all(len(perms) == len(set(perms)) for perms in merged.values())


def test_sync_recreates_groups_and_resets_drifted_permissions():
    Group.objects.filter(name="finance").delete()
    support = Group.objects.get(name="support_agent")
    support.permissions.clear()
    report = roles_service.roles_sync()
    assert "finance" in report.created
    assert "accounts.view_user" in _perms("support_agent")


def test_missing_permissions_and_unknown_roles_are_reported_not_fatal():
    report = roles_service.roles_sync(
        declarations={"finance": ["accounts.view_user", "billing.no_such_perm", "malformed"], "janitor": []}
    )
    assert report.missing == [("finance", "billing.no_such_perm"), ("finance", "malformed")]
    assert report.unknown_roles == ["janitor"]
    assert _perms("finance") == {"accounts.view_user"}
    assert not Group.objects.filter(name="janitor").exists()


def test_sync_roles_command_prints_each_role():
    out = io.StringIO()
    call_command("sync_roles", stdout=out)
    text = out.getvalue()
    for role in roles.ROLES:
        assert f"{role}" in text
    assert "accounts.view_user" in text


def _allowed(permission_class, user) -> bool:  # type: ignore[no-untyped-def]
    request = APIRequestFactory().get("/")
    force_authenticate(request, user=user)
    from rest_framework.request import Request

    return permission_class().has_permission(Request(request), None)


def test_has_perm_follows_the_role_groups():
    support = UserFactory.create(is_staff=True)
    support.groups.add(Group.objects.get(name="support_agent"))
    rider = UserFactory.create()
    can_view, can_block = HasPerm("accounts.view_user"), HasPerm("accounts.view_user", "accounts.block_user")
    assert _allowed(can_view, support) and not _allowed(can_view, rider)
    assert not _allowed(can_block, support)
    support.groups.add(Group.objects.get(name="admin"))
    support = type(support).objects.get(pk=support.pk)  # permission cache
    assert _allowed(can_block, support)


def test_has_perm_composes_and_refuses_anonymous():
    from django.contrib.auth.models import AnonymousUser

    combined = IsAuthenticated & HasPerm("accounts.view_user")
    assert not _allowed(combined, AnonymousUser())
    assert _allowed(combined, UserFactory.create(is_superuser=True))


def test_has_perm_rejects_malformed_names():
    with pytest.raises(ValueError):
        HasPerm("view_user")
