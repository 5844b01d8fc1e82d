"""The fare engine: one pure function from (tariff snapshot, usage, benefits) to an itemised fare.

Time is billed per *started* minute (61 s of riding is 2 minutes), riding and pause separately, as GBFS
``per_min_pricing`` describes it; distance is prorated per metre. The steps, in this order (docs/fares.md):

1. charges: unlock, riding minutes by bracket (the tariff's free minutes are the ride's first minutes),
   pause minutes, reservation, distance;
2. ride benefits: unlock waived, then the pass's free minutes, then minute-pack minutes, each covering the
   earliest riding minutes still charged (pass minutes go first: they expire with the ride, a pack does not);
3. minimum fare: a fare that is still above zero is raised to the minimum;
4. zone adjustments: surcharges add, bonuses subtract (never below zero);
5. ride cap, then daily cap (what is left of it after ``spent_today``): caps win over the minimum fare;
6. promos: percentage off, then a fixed amount off (never below zero);
7. rounding, once: the total is the exact sum rounded half-up to minor units (``core.money.quantize``),
   and line amounts are allocated so that they add up to exactly that total.

Every step is a non-decreasing function of the amount before it, which is why more usage never costs
less and why a benefit never costs more.
"""

from __future__ import annotations

import dataclasses
import decimal
from dataclasses import dataclass, field
from decimal import Decimal

from billing.fares import rounding
from billing.fares.types import (
    NO_BENEFITS,
    ZERO,
    Benefits,
    Fare,
    FareLine,
    RideUsage,
    RunningCost,
    TariffSnapshot,
    check_count,
)
from core.money import quantize

CHARGE_KINDS = frozenset(
    {"unlock", "free_minutes", "riding", "pause", "reservation", "distance", "minimum_fare", "zone_surcharge"}
)
_PRECISION = 60  # exact arithmetic: prices have few digits, so nothing is rounded before the end


@dataclass(frozen=True, slots=True)
class Segment:
    """Charged riding minutes [start, end) (0-based) at one bracket rate."""

    start: int
    end: int
    rate: Decimal


@dataclass(slots=True)
class _Draft:
    lines: list[FareLine] = field(default_factory=list)

    def add(
        self, kind: str, description: str, quantity: Decimal | int, unit: Decimal | None, amount: Decimal
    ) -> None:
        self.lines.append(FareLine(kind, description, Decimal(quantity), unit, amount))

    def running(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def _minutes_label(first: int, last: int) -> str:
    return f"minute {first}" if first == last else f"minutes {first}-{last}"


def started_minutes(seconds: int) -> int:
    """Per started minute: 0 s is 0 minutes, 1-60 s is 1, 61 s is 2."""
    return -(-seconds // 60)


def compute_fare(snapshot: TariffSnapshot, usage: RideUsage, benefits: Benefits = NO_BENEFITS) -> Fare:
    """The final itemised fare of a ride (see the module docstring for the order of the steps)."""
    for zone_id in usage.zone_ids:
        snapshot.zone_adjustment(zone_id)  # raises TariffInvalid for a zone the tariff does not know
    with decimal.localcontext(prec=_PRECISION):
        draft = _Draft()
        segments = _add_charges(draft, snapshot, usage)
        pack_used = _apply_ride_benefits(draft, snapshot, benefits, segments)
        _apply_minimum_fare(draft, snapshot)
        _apply_zones(draft, snapshot, usage)
        capped = _apply_caps(draft, snapshot, usage)
        _apply_promos(draft, benefits)
        return _finish(draft, snapshot, capped=capped, pack_used=pack_used)


def _add_charges(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> list[Segment]:
    draft.add("unlock", "Unlock", 1, snapshot.unlock_fee, snapshot.unlock_fee)
    minutes = started_minutes(usage.riding_seconds)
    free = min(snapshot.free_minutes, minutes)
    if free:
        draft.add("free_minutes", f"Free {_minutes_label(1, free)}", free, ZERO, ZERO)
    segments = charged_segments(snapshot, minutes)
    for seg in segments:
        draft.add(
            "riding",
            f"Riding {_minutes_label(seg.start + 1, seg.end)}",
            seg.end - seg.start,
            seg.rate,
            (seg.end - seg.start) * seg.rate,
        )
    _add_pause(draft, snapshot, usage)
    _add_reservation(draft, snapshot, usage)
    _add_distance(draft, snapshot, usage)
    return segments


def charged_segments(snapshot: TariffSnapshot, minutes: int) -> list[Segment]:
    """The ride's first ``minutes`` riding minutes, less the tariff's free minutes, split by bracket."""
    segments = []
    ends = [b.start_minute for b in snapshot.brackets[1:]] + [minutes]
    for bracket, bracket_end in zip(snapshot.brackets, ends, strict=True):
        start = max(bracket.start_minute, snapshot.free_minutes)
        end = min(bracket_end, minutes)
        if end > start:
            segments.append(Segment(start, end, bracket.per_minute))
    return segments


def _add_pause(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> None:
    minutes = started_minutes(usage.paused_seconds)
    if minutes:
        rate = snapshot.pause_per_minute
        draft.add("pause", f"Pause, {minutes} min", minutes, rate, minutes * rate)


def _add_reservation(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> None:
    if usage.reserved_seconds == 0:
        return
    minutes, unit, amount = reservation_charge(snapshot, usage.reserved_seconds)
    total_minutes = started_minutes(usage.reserved_seconds)
    if snapshot.reservation_mode == "flat" and amount:
        draft.add("reservation", f"Reservation, {total_minutes} min (flat fee)", 1, unit, amount)
    elif amount:
        draft.add(
            "reservation", f"Reservation, {minutes} of {total_minutes} min charged", minutes, unit, amount
        )
    else:
        draft.add("reservation", f"Reservation, {total_minutes} min (free)", total_minutes, ZERO, ZERO)


def reservation_charge(snapshot: TariffSnapshot, reserved_seconds: int) -> tuple[int, Decimal, Decimal]:
    """(charged minutes, unit price, exact amount). The free minutes come first in every mode: a flat fee
    is due once a reservation outlasts them, a per-minute fee for each started minute after them."""
    check_count("reserved_seconds", reserved_seconds)
    charged = started_minutes(max(0, reserved_seconds - 60 * snapshot.reservation_free_minutes))
    if snapshot.reservation_mode == "flat" and charged:
        return charged, snapshot.reservation_flat_fee, snapshot.reservation_flat_fee
    if snapshot.reservation_mode == "per_minute":
        rate = snapshot.reservation_per_minute
        return charged, rate, charged * rate
    return 0, ZERO, ZERO


def _add_distance(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> None:
    if snapshot.per_km is None or usage.distance_m == 0:
        return
    km = Decimal(usage.distance_m) / 1000
    draft.add("distance", f"Distance, {km} km", km, snapshot.per_km, km * snapshot.per_km)


def _take_minutes(segments: list[Segment], wanted: int) -> tuple[int, Decimal, list[Segment]]:
    """Cover up to ``wanted`` of the earliest priced minutes: (minutes taken, their value, what is left).
    Minutes priced 0 are skipped so that a pass or a pack is never spent on them."""
    taken, value, rest = 0, ZERO, []
    for seg in segments:
        n = 0 if seg.rate == 0 else min(wanted - taken, seg.end - seg.start)
        taken, value = taken + n, value + n * seg.rate
        if seg.start + n < seg.end:
            rest.append(Segment(seg.start + n, seg.end, seg.rate))
    return taken, value, rest


def _apply_ride_benefits(
    draft: _Draft, snapshot: TariffSnapshot, benefits: Benefits, segments: list[Segment]
) -> int:
    if benefits.unlock_waived and snapshot.unlock_fee:
        draft.add("unlock_waived", "Unlock fee waived (pass)", 1, None, -snapshot.unlock_fee)
    taken, value, segments = _take_minutes(segments, benefits.free_minutes)
    if taken:
        draft.add("pass_minutes", f"{taken} free minutes (pass)", taken, None, -value)
    pack_used, value, segments = _take_minutes(segments, benefits.minute_pack_minutes_available)
    if pack_used:
        draft.add("minute_pack", f"{pack_used} minutes from minute pack", pack_used, None, -value)
    return pack_used


def _apply_minimum_fare(draft: _Draft, snapshot: TariffSnapshot) -> None:
    running = draft.running()
    if 0 < running < snapshot.minimum_fare:
        draft.add(
            "minimum_fare", f"Minimum fare {snapshot.minimum_fare}", 1, None, snapshot.minimum_fare - running
        )


def _apply_zones(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> None:
    # The snapshot's order, not the caller's, so the result does not depend on how zone_ids were listed.
    for zone in snapshot.zone_adjustments:
        if zone.zone_id not in usage.zone_ids:
            continue
        if zone.amount >= 0:
            draft.add("zone_surcharge", f"{zone.name} surcharge", 1, zone.amount, zone.amount)
            continue
        amount = max(zone.amount, -draft.running())
        if amount:
            draft.add("zone_bonus", f"{zone.name} bonus", 1, zone.amount, amount)


def _apply_caps(draft: _Draft, snapshot: TariffSnapshot, usage: RideUsage) -> bool:
    capped = False
    if snapshot.ride_cap is not None and draft.running() > snapshot.ride_cap:
        draft.add("ride_cap", f"Ride cap {snapshot.ride_cap}", 1, None, snapshot.ride_cap - draft.running())
        capped = True
    if snapshot.daily_cap is not None:
        left = max(ZERO, snapshot.daily_cap - usage.spent_today)
        if draft.running() > left:
            draft.add(
                "daily_cap",
                f"Daily cap {snapshot.daily_cap}, {left} left today",
                1,
                None,
                left - draft.running(),
            )
            capped = True
    return capped


def _apply_promos(draft: _Draft, benefits: Benefits) -> None:
    if benefits.percent_off and draft.running() > 0:
        draft.add(
            "promo_percent",
            f"Promo {benefits.percent_off} % off",
            1,
            None,
            -draft.running() * benefits.percent_off / 100,
        )
    if benefits.fixed_off and draft.running() > 0:
        amount = min(benefits.fixed_off, draft.running())
        draft.add("promo_fixed", f"Promo {benefits.fixed_off} off", 1, None, -amount)


def _finish(draft: _Draft, snapshot: TariffSnapshot, *, capped: bool, pack_used: int) -> Fare:
    currency = snapshot.currency
    total = quantize(draft.running(), currency)
    lines = rounding.allocate(draft.lines, total, currency)
    subtotal = sum((line.amount for line in lines if line.kind in CHARGE_KINDS), ZERO)
    vat = quantize(total * snapshot.vat_rate / (1 + snapshot.vat_rate), currency)
    return Fare(
        lines=tuple(lines),
        subtotal=subtotal,
        discounts=subtotal - total,
        total=total,
        vat_rate=snapshot.vat_rate,
        vat_amount=vat,
        net_amount=total - vat,
        currency=currency,
        capped=capped,
        minutes_from_pack_used=pack_used,
    )


def reservation_fee(snapshot: TariffSnapshot, reserved_seconds: int) -> Decimal:
    """What a reservation of ``reserved_seconds`` costs on its own (e.g. one that expired without a ride)."""
    return quantize(reservation_charge(snapshot, reserved_seconds)[2], snapshot.currency)


def running_cost(
    snapshot: TariffSnapshot, usage: RideUsage, benefits: Benefits = NO_BENEFITS, *, paused: bool = False
) -> RunningCost:
    """The fare so far of an open ride: ``compute_fare`` as if it ended now, and what the next minute adds."""
    fare = compute_fare(snapshot, usage, benefits)
    seconds = usage.paused_seconds if paused else usage.riding_seconds
    next_start = 60 * started_minutes(seconds) + 1  # the next minute is charged from its first second
    if paused:
        later = dataclasses.replace(usage, paused_seconds=next_start)
        rate = snapshot.pause_per_minute
    else:
        later = dataclasses.replace(usage, riding_seconds=next_start)
        rate = _rate_at_minute(snapshot, started_minutes(seconds))
    adds = compute_fare(snapshot, later, benefits).total - fare.total
    return RunningCost(
        fare=fare,
        paused=paused,
        per_minute=rate,
        next_minute_adds=adds,
        seconds_to_next_minute=next_start - seconds,
    )


def _rate_at_minute(snapshot: TariffSnapshot, minute: int) -> Decimal:
    if minute < snapshot.free_minutes:
        return ZERO
    return [b.per_minute for b in snapshot.brackets if b.start_minute <= minute][-1]
