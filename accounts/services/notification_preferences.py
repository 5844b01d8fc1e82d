"""A rider's choices about notifications: which categories reach the phone, quiet hours, language, time zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time

from django.db import transaction

from accounts import errors, notification_kinds
from accounts.models import NotificationPreference, User

_UNSET = object()


@transaction.atomic
def notification_preferences_update(*, user: User, push: Mapping[str, bool] | None = None,
                                    quiet_hours: tuple[time, time] | None | object = _UNSET,
                                    language: str | None | object = _UNSET,
                                    time_zone: str | None | object = _UNSET) -> NotificationPreference:
    """Change what is given (``None`` for quiet hours, language or zone: none / follow the app).

    Switching off a required category (safety alerts, rides and account) is refused; switching it on is a no-op.
    Changes apply to notifications sent from now on; pushes already held for quiet hours keep their time.
    """
    preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    for category, wanted in (push or {}).items():
        policy = notification_kinds.POLICIES[category]
        if policy.preference_field is None:
            if not wanted:
                raise errors.NotificationCategoryRequired()
            continue
        setattr(preference, policy.preference_field, wanted)
    if quiet_hours is not _UNSET:
        start, end = quiet_hours if isinstance(quiet_hours, tuple) else (None, None)
        preference.quiet_hours_start, preference.quiet_hours_end = start, end
    preference.save()
    user_fields = []
    if language is not _UNSET:
        user.language = str(language or "")
        user_fields.append("language")
    if time_zone is not _UNSET:
        user.time_zone = str(time_zone or "")
        user_fields.append("time_zone")
    if user_fields:
        user.save(update_fields=[*user_fields, "updated_at"])
    return preference
