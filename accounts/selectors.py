"""Reads of accounts for views and other apps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import translation

from accounts.models import Device, Notification, NotificationPreference, User
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


def devices_of(*, user: User) -> QuerySet[Device]:
    """The user's registered app installs, the latest registered first."""
    return Device.objects.filter(user=user).order_by("-registered_at")


def notification_preference_of(*, user_id: Any) -> NotificationPreference:
    """The stored preferences, or the defaults (unsaved) when the rider never changed any."""
    return NotificationPreference.objects.filter(user_id=user_id).first() or NotificationPreference(user_id=user_id)


def language_supported(tag: str) -> str | None:
    """The language of ``settings.LANGUAGES`` that a BCP 47 tag asks for (``de-AT`` -> ``de``), or None."""
    if not tag:
        return None
    try:
        return translation.get_supported_language_variant(tag.strip().replace("_", "-").lower())
    except LookupError:
        return None


@dataclass(frozen=True)
class PushRecipient:
    """What deciding about a notification needs of its rider: language, zone, choices, devices."""

    language: str
    language_explicit: bool
    time_zone: str
    time_zone_explicit: bool
    preference: NotificationPreference
    device_ids: list[uuid.UUID]


def push_recipient(*, user_id: Any) -> PushRecipient:
    """The rider's own language and zone win; else those of the app install registered last; else the defaults
    (``LANGUAGE_CODE``, UTC). Three queries."""
    user = User.objects.only("language", "time_zone").get(pk=user_id)
    devices = list(Device.objects.filter(user_id=user_id).order_by("-registered_at")
                   .values_list("id", "locale", "time_zone"))
    device_language = next((lang for _, locale, _ in devices if (lang := language_supported(locale))), None)
    device_zone = next((zone for _, _, zone in devices if zone), None)
    return PushRecipient(
        language=user.language or device_language or settings.LANGUAGE_CODE,
        language_explicit=bool(user.language),
        time_zone=user.time_zone or device_zone or "UTC",
        time_zone_explicit=bool(user.time_zone),
        preference=notification_preference_of(user_id=user_id),
        device_ids=[device_id for device_id, _, _ in devices],
    )


def notification_preferences_of(*, user: User) -> dict[str, Any]:
    """The rider's push choices in the API's form (``NotificationPreferencesOut``)."""
    from accounts import notification_kinds  # it imports the models; selectors load early

    recipient = push_recipient(user_id=user.pk)
    preference = recipient.preference
    push = {category: policy.preference_field is None or bool(getattr(preference, policy.preference_field))
            for category, policy in notification_kinds.POLICIES.items()}
    quiet = None
    if preference.quiet_hours_start is not None and preference.quiet_hours_end is not None:
        quiet = {"start": preference.quiet_hours_start, "end": preference.quiet_hours_end}
    return {
        "push": push,
        "always_on": [category for category, policy in notification_kinds.POLICIES.items() if policy.required],
        "quiet_hours": quiet,
        "language": recipient.language if recipient.language_explicit else None,
        "effective_language": recipient.language,
        "time_zone": recipient.time_zone if recipient.time_zone_explicit else None,
        "effective_time_zone": recipient.time_zone,
    }
