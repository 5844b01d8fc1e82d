"""What the rider page shows, read through the selectors of accounts, billing and rides; every list bounded."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser

from accounts import selectors as account_selectors
from accounts.models import User
from accounts.phone import phone_masked
from billing import selectors as billing_selectors
from billing.selectors.wallet import WalletBalance
from console.models import SupportNote
from fleet import selectors as fleet_selectors
from rides import ride_page
from rides import selectors as ride_selectors
from rides.models import OPEN_STATES, Ride

ROWS = 20
NOTE_ROWS = 50


def _wallets(rider: User) -> list[WalletBalance]:
    return [billing_selectors.wallet_balance(user=rider, currency=c)
            for c in billing_selectors.wallet_currencies(user=rider)]


def _shown_ride(rides: list[Ride], wanted: str | None) -> Ride | None:
    """The ride whose track and fare the page shows: ``?ride=<id>`` among the listed ones, else the newest."""
    return next((r for r in rides if str(r.id) == wanted), rides[0] if rides else None)


def rider_panels(rider: User, *, staff: User | AnonymousUser, ride: str | None = None) -> dict[str, Any]:
    rides = ride_selectors.rides_of_rider(rider_id=rider.pk, limit=ROWS)
    shown = _shown_ride(rides, ride)
    # The ride page's own panels (rides.ride_page): the track on a map, zone crossings, the fare, payments.
    ride_panels = ride_page.ride_panels(shown, staff=staff) if shown is not None else {}
    billings = billing_selectors.ride_billings_for(ride_ids=[r.id for r in rides])
    charged = {ride_id for ride_id, b in billings.items() if b.status == b.Status.CHARGED}
    return {
        "rider": rider, "phone": phone_masked(rider.phone), "contact": rider.contact_label,
        "wallets": _wallets(rider),
        "methods": list(billing_selectors.payment_methods_for(user=rider)[:ROWS]),
        # Every ride of the rider is listed; the ride actions are offered on the staff member's cities' rides only.
        "rides": [{"ride": r, "billing": billings.get(r.id), "charged": r.id in charged,
                   "open": r.state in OPEN_STATES,
                   "ours": fleet_selectors.staff_sees_city(user=staff, city_id=r.city_id)} for r in rides],
        "receipts": [r for r in rides if r.id in charged],
        "rider_refunds": billing_selectors.refunds_of_rider(user_id=rider.pk, limit=ROWS),
        "notifications": list(account_selectors.notifications_for(user=rider).order_by("-created_at")[:ROWS]),
        "problems": ride_selectors.problem_reports_of_rider(rider_id=rider.pk, limit=ROWS),
        "notes": list(SupportNote.objects.filter(rider=rider).select_related("author")
                      .order_by("-created_at")[:NOTE_ROWS]),
        "rows": ROWS, "note_rows": NOTE_ROWS, "original": shown, **ride_panels,
        "may": {name: staff.has_perm(perm) for name, perm in ACTION_PERMISSIONS.items()},
    }


# The permission each action of the page needs (the roles of accounts, billing, rides and console grant them).
ACTION_PERMISSIONS: dict[str, str] = {
    "refund": "billing.refund",
    "goodwill": "billing.grant_goodwill",
    "force_end": "rides.force_end_ride",
    "block": "accounts.block_user",
    "unblock": "accounts.block_user",
    "receipt": "billing.view_ridebilling",
    "note": "console.add_supportnote",
}
