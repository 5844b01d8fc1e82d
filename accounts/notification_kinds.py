"""Which notification kinds belong to which category, and how each category is pushed.

Other apps send the kinds below through ``accounts.services.notify``; a kind not listed here counts as
``account`` (always pushed, held in quiet hours). Add a new kind here with the category a rider would expect to
switch it off under (docs/accounts.md "Push notifications").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from accounts.models import NotificationCategory as C


@dataclass(frozen=True)
class CategoryPolicy:
    required: bool  # cannot be switched off (safety, money, account security)
    urgent: bool  # sent at once, in quiet hours too, at high priority
    max_age: timedelta  # a push not sent by then is dropped (the inbox keeps the notification)
    preference_field: str | None  # NotificationPreference's switch, None for required categories


POLICIES: dict[str, CategoryPolicy] = {
    C.RIDE_ALERTS: CategoryPolicy(required=True, urgent=True, max_age=timedelta(minutes=15), preference_field=None),
    C.ACCOUNT: CategoryPolicy(required=True, urgent=False, max_age=timedelta(hours=24), preference_field=None),
    C.RECEIPTS: CategoryPolicy(required=False, urgent=False, max_age=timedelta(hours=24),
                               preference_field="push_receipts"),
    # A lapse told the next morning helps nobody: dropped unless quiet hours end within half an hour.
    C.RESERVATIONS: CategoryPolicy(required=False, urgent=False, max_age=timedelta(minutes=30),
                                   preference_field="push_reservations"),
    C.MARKETING: CategoryPolicy(required=False, urgent=False, max_age=timedelta(hours=12),
                                preference_field="push_marketing"),
}

KINDS: dict[str, str] = {
    "ride.zone_warning": C.RIDE_ALERTS,  # entered a no-riding zone during a ride (telemetry)
    "ride_auto_ended": C.ACCOUNT,  # a forgotten ride was ended and charged (rides)
    "ride_force_ended": C.ACCOUNT,  # support ended the ride (rides)
    "ride_receipt": C.RECEIPTS,  # the receipt, sent again by support (billing)
    "reservation_expired": C.RESERVATIONS,  # a reservation lapsed, maybe with a fee (rides)
    "promotion": C.MARKETING,  # offers and news (none sent by Freewheel itself yet)
}


def category_of(kind: str) -> str:
    return KINDS.get(kind, C.ACCOUNT)


def policy_of(kind: str) -> CategoryPolicy:
    return POLICIES[category_of(kind)]
