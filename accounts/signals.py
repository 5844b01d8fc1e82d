"""Signals other apps may listen to, and the post_migrate hook that keeps staff roles in sync."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.dispatch import Signal

from accounts.services import roles

# Sent with ``user=`` (row-locked) inside the transaction of ``users.user_delete``, before anything is changed.
# A receiver may raise a ``DomainError`` (for example "ride still open", "balance outstanding") to refuse the
# deletion; nothing is then written.
user_deleting = Signal()


def _last_app_with_models() -> str:
    labels = [config.label for config in apps.get_app_configs() if config.models_module is not None]
    return labels[-1]


def roles_sync_after_migrate(
    sender: AppConfig, using: str = "default", verbosity: int = 1, **kwargs: Any
) -> None:
    """Sync roles once per migrate, after the last app: by then every app's permissions exist."""
    if sender.label != _last_app_with_models():
        return
    report = roles.roles_sync(using=using)
    if verbosity >= 1:
        for line in report.problems():
            print(f"  sync_roles: {line}")
