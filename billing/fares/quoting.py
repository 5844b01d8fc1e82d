"""What a rider sees before unlocking: "unlock 1.00 + 0.25/min", as structured, localisable pieces.

Each ``QuotePiece`` is a message key with string parameters (amounts already in minor units), so an app
can translate the pieces; ``Quote.text`` is the English rendering of the same pieces.
"""

from __future__ import annotations

from decimal import Decimal

from billing.fares.types import Quote, QuotePiece, TariffSnapshot
from core.money import quantize

_ENGLISH = {
    "unlock": "unlock {amount}",
    "per_minute": "{amount}/min",
    "per_minute_after": "{amount}/min after {minutes} min",
    "per_km": "{amount}/km",
    "free_minutes": "first {minutes} min free",
    "pause": "pause {amount}/min",
    "reservation_flat": "reservation {amount}",
    "reservation_per_minute": "reservation {amount}/min",
    "reservation_flat_after_free": "reservation {amount} after {minutes} free min",
    "reservation_per_minute_after_free": "reservation {amount}/min after {minutes} free min",
    "minimum_fare": "minimum {amount}",
    "ride_cap": "max {amount} per ride",
    "daily_cap": "max {amount} per day",
}
# Pieces joined with " + " form the price; the rest are conditions, joined with "; ".
_PRICE_KEYS = frozenset({"unlock", "per_minute", "per_km"})


def quote(snapshot: TariffSnapshot) -> Quote:
    pieces = (*_price_pieces(snapshot), *_condition_pieces(snapshot))
    return Quote(
        tariff_id=snapshot.tariff_id,
        version=snapshot.version,
        currency=snapshot.currency,
        unlock_fee=snapshot.unlock_fee,
        per_minute=snapshot.brackets[0].per_minute,
        brackets=snapshot.brackets,
        per_km=snapshot.per_km,
        pause_per_minute=snapshot.pause_per_minute,
        free_minutes=snapshot.free_minutes,
        minimum_fare=snapshot.minimum_fare,
        ride_cap=snapshot.ride_cap,
        daily_cap=snapshot.daily_cap,
        pieces=pieces,
        text=render_english(pieces),
    )


def render_english(pieces: tuple[QuotePiece, ...]) -> str:
    price = " + ".join(_ENGLISH[p.key].format(**p.params) for p in pieces if p.key in _PRICE_KEYS)
    conditions = [_ENGLISH[p.key].format(**p.params) for p in pieces if p.key not in _PRICE_KEYS]
    return "; ".join([price, *conditions])


def _amount(snapshot: TariffSnapshot, value: Decimal) -> dict[str, str]:
    """At least the currency's minor units ("1.00"), more only when a rate has them ("0.125")."""
    shown = quantize(value, snapshot.currency)
    return {"amount": str(shown if shown == value else value.normalize()), "currency": snapshot.currency}


def _price_pieces(snapshot: TariffSnapshot) -> list[QuotePiece]:
    pieces = [
        QuotePiece("unlock", _amount(snapshot, snapshot.unlock_fee)),
        QuotePiece("per_minute", _amount(snapshot, snapshot.brackets[0].per_minute)),
    ]
    if snapshot.per_km is not None:
        pieces.append(QuotePiece("per_km", _amount(snapshot, snapshot.per_km)))
    return pieces


def _condition_pieces(snapshot: TariffSnapshot) -> list[QuotePiece]:
    pieces = [
        QuotePiece("per_minute_after", {**_amount(snapshot, b.per_minute), "minutes": str(b.start_minute)})
        for b in snapshot.brackets[1:]
    ]
    if snapshot.free_minutes:
        pieces.append(QuotePiece("free_minutes", {"minutes": str(snapshot.free_minutes)}))
    if snapshot.pause_per_minute:
        pieces.append(QuotePiece("pause", _amount(snapshot, snapshot.pause_per_minute)))
    pieces += _reservation_pieces(snapshot)
    for key in ("minimum_fare", "ride_cap", "daily_cap"):
        value = getattr(snapshot, key)
        if value:
            pieces.append(QuotePiece(key, _amount(snapshot, value)))
    return pieces


def _reservation_pieces(snapshot: TariffSnapshot) -> list[QuotePiece]:
    mode = snapshot.reservation_mode
    if mode == "free":
        return []
    fee = snapshot.reservation_flat_fee if mode == "flat" else snapshot.reservation_per_minute
    free = snapshot.reservation_free_minutes
    if free:
        return [
            QuotePiece(f"reservation_{mode}_after_free", {**_amount(snapshot, fee), "minutes": str(free)})
        ]
    return [QuotePiece(f"reservation_{mode}", _amount(snapshot, fee))]
