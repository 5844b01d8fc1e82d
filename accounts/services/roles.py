"""Staff roles as Django groups, declared in code by each app's ``roles.py`` and synced into the database."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.module_loading import module_has_submodule

from accounts import roles as accounts_roles

Declarations = dict[str, list[str]]


@dataclass
class RolesSyncReport:
    created: list[str] = field(default_factory=list)
    granted: dict[str, list[str]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (role, "app_label.codename")
    unknown_roles: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        lines = [f"permission {perm!r} for role {role!r} does not exist (yet)" for role, perm in self.missing]
        return lines + [
            f"role {role!r} is not one of {accounts_roles.ROLES}: ignored" for role in self.unknown_roles
        ]


def roles_collect() -> Declarations:
    """Merge ``ROLE_PERMISSIONS`` of every installed app that has a ``roles`` module."""
    merged: Declarations = {role: [] for role in accounts_roles.ROLES}
    for config in apps.get_app_configs():
        if config.module is None or not module_has_submodule(config.module, "roles"):
            continue
        declared: Declarations = getattr(
            importlib.import_module(f"{config.name}.roles"), "ROLE_PERMISSIONS", {}
        )
        for role, perms in declared.items():
            merged.setdefault(role, []).extend(p for p in perms if p not in merged.get(role, []))
    return merged


def _permissions(perms: list[str], using: str) -> tuple[list[Permission], list[str]]:
    found, missing = [], []
    for perm in perms:
        app_label, _, codename = perm.partition(".")
        row = (
            Permission.objects.using(using)
            .filter(content_type__app_label=app_label, codename=codename)
            .first()
        )
        if row is None:
            missing.append(perm)
        else:
            found.append(row)
    return found, missing


@transaction.atomic
def roles_sync(*, declarations: Declarations | None = None, using: str = DEFAULT_DB_ALIAS) -> RolesSyncReport:
    """Make each role's group hold exactly its declared permissions (code is the source of truth).

    A permission that does not exist yet (its app not migrated) is reported, not fatal; unknown roles are
    reported and skipped, so a typo cannot create a stray group.
    """
    report = RolesSyncReport()
    for role, perms in (roles_collect() if declarations is None else declarations).items():
        if role not in accounts_roles.ROLES:
            report.unknown_roles.append(role)
            continue
        group, created = Group.objects.using(using).get_or_create(name=role)
        if created:
            report.created.append(role)
        found, missing = _permissions(perms, using)
        group.permissions.set(found)
        report.granted[role] = sorted(f"{p.content_type.app_label}.{p.codename}" for p in found)
        report.missing.extend((role, perm) for perm in missing)
    return report
