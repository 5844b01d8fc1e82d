"""Reads of accounts for views and other apps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import Notification, User
from accounts.phone import phone_search_form


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


def users_matching(*, text: str, region: str | None = None) -> Q:
    """What a staff search for ``text`` matches among users: a phone number in any usual form (national ones in
    ``region``, default ``PHONENUMBER_DEFAULT_REGION``) exactly, an email or a name by its beginning in any case.
    Never inside a text (docs/admin.md, large tables): the email's beginning and the phone have indexes."""
    text = text.strip()
    if not text:
        return Q(pk__in=[])
    query = Q(email__istartswith=text) | Q(name__istartswith=text)
    e164 = phone_search_form(text, region=region or settings.PHONENUMBER_DEFAULT_REGION)
    if e164 is not None:
        query |= Q(phone=e164)
    return query


def users_search(*, text: str, limit: int = 50) -> list[User]:
    """Users matching ``text`` (``users_matching``), newest first, at most ``limit``."""
    return list(User.objects.filter(users_matching(text=text)).order_by("-created_at")[:limit])
