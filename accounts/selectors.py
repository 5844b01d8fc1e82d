"""Reads of accounts for views and other apps."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import Notification, User


def user_get(*, user_id: Any) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def user_roles(*, user: User) -> list[str]:
    """Names of the staff roles (Django groups) the user holds, sorted."""
    return sorted(user.groups.values_list("name", flat=True))


def notifications_for(*, user: User) -> QuerySet[Notification]:
    """The user's notifications (the view paginates them newest first)."""
    return Notification.objects.filter(user=user)
