"""Property tests of the fare engine (hypothesis): the promises the billing app builds on.

The strategies below are also used by the GBFS export tests.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.fares import (
    NO_BENEFITS,
    Benefits,
    Fare,
    PriceBracket,
    RideUsage,
    TariffSnapshot,
    ZoneAdjustment,
    compute_fare,
    reservation_fee,
    rounding,
    running_cost,
)
from billing.fares.types import RESERVATION_MODES
from core.money import minor_units, quantize

# The autouse cache-clearing fixture in tests/conftest.py runs once per test, not per example: harmless
# here, the engine touches no cache.
prop = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CURRENCIES = ["EUR", "CHF", "JPY", "KWD"]


def amounts(max_value: str = "20", places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=Decimal(max_value), places=places)


rates = st.one_of(amounts("1", 2), amounts("1", 3))  # sub-cent rates are allowed (0.125/min)


@st.composite
def brackets(draw: st.DrawFn) -> tuple[PriceBracket, ...]:
    starts = sorted({0, *draw(st.lists(st.integers(1, 90), max_size=3))})
    return tuple(PriceBracket(start, draw(rates)) for start in starts)


@st.composite
def snapshots(draw: st.DrawFn) -> TariffSnapshot:
    mode = draw(st.sampled_from(RESERVATION_MODES))
    zones = draw(
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.decimals("-3", "3", places=2)),
            max_size=3,
            unique_by=lambda z: z[0],
        )
    )
    return TariffSnapshot(
        tariff_id=draw(st.sampled_from(["t-1", "berlin-scooter"])),
        version=draw(st.integers(1, 50)),
        currency=draw(st.sampled_from(CURRENCIES)),
        unlock_fee=draw(amounts("3")),
        brackets=draw(brackets()),
        per_km=draw(st.none() | rates),
        pause_per_minute=draw(rates),
        reservation_mode=mode,
        reservation_flat_fee=draw(amounts("2")),
        reservation_per_minute=draw(rates),
        reservation_free_minutes=draw(st.integers(0, 15)),
        ride_cap=draw(st.none() | amounts("40")),
        daily_cap=draw(st.none() | amounts("60")),
        free_minutes=draw(st.integers(0, 20)),
        minimum_fare=draw(amounts("5")),
        vat_rate=draw(st.sampled_from([Decimal(0), Decimal("0.07"), Decimal("0.19"), Decimal("0.255")])),
        zone_adjustments=tuple(
            ZoneAdjustment(zone_id, f"Zone {zone_id}", amount) for zone_id, amount in zones
        ),
    )


@st.composite
def usages(draw: st.DrawFn, snapshot: TariffSnapshot) -> RideUsage:
    zone_ids = [z.zone_id for z in snapshot.zone_adjustments]
    return RideUsage(
        riding_seconds=draw(st.integers(0, 4 * 3600)),
        paused_seconds=draw(st.integers(0, 3600)),
        reserved_seconds=draw(st.integers(0, 1800)),
        distance_m=draw(st.integers(0, 60_000)),
        spent_today=draw(amounts("80")),
        zone_ids=tuple(draw(st.lists(st.sampled_from(zone_ids), unique=True)) if zone_ids else ()),
    )


benefit_sets = st.builds(
    Benefits,
    unlock_waived=st.booleans(),
    free_minutes=st.integers(0, 60),
    minute_pack_minutes_available=st.integers(0, 120),
    percent_off=st.none() | st.decimals(0, 100, places=1),
    fixed_off=st.none() | amounts("10"),
)


@st.composite
def rides(draw: st.DrawFn) -> tuple[TariffSnapshot, RideUsage, Benefits]:
    snapshot = draw(snapshots())
    return snapshot, draw(usages(snapshot)), draw(benefit_sets)


def assert_well_formed(fare: Fare) -> None:
    unit = Decimal(1).scaleb(-minor_units(fare.currency))
    assert sum(line.amount for line in fare.lines) == fare.total
    assert fare.subtotal - fare.discounts == fare.total
    assert fare.total == quantize(fare.total, fare.currency)
    assert all(line.amount == line.amount.quantize(unit) for line in fare.lines)
    assert fare.vat_amount + fare.net_amount == fare.total
    assert min(fare.total, fare.vat_amount, fare.net_amount, fare.discounts) >= 0


@prop
@given(rides())
def test_fare_is_well_formed_and_never_negative(ride: tuple[TariffSnapshot, RideUsage, Benefits]) -> None:
    snapshot, usage, benefits = ride
    fare = compute_fare(snapshot, usage, benefits)
    assert_well_formed(fare)
    assert fare.currency == snapshot.currency
    assert (
        Fare.from_json(json.loads(json.dumps(fare.to_json()))) == fare
    )  # a stored receipt reads back exactly
    assert 0 <= fare.minutes_from_pack_used <= benefits.minute_pack_minutes_available


@prop
@given(
    rides(),
    st.sampled_from(["riding_seconds", "paused_seconds", "reserved_seconds", "distance_m"]),
    st.integers(0, 7200),
)
def test_more_usage_never_costs_less(
    ride: tuple[TariffSnapshot, RideUsage, Benefits], what: str, extra: int
) -> None:
    snapshot, usage, benefits = ride
    more = dataclasses.replace(usage, **{what: getattr(usage, what) + extra})
    assert compute_fare(snapshot, more, benefits).total >= compute_fare(snapshot, usage, benefits).total


@prop
@given(rides())
def test_never_above_the_ride_cap_nor_what_is_left_of_the_daily_cap(
    ride: tuple[TariffSnapshot, RideUsage, Benefits],
) -> None:
    snapshot, usage, benefits = ride
    total = compute_fare(snapshot, usage, benefits).total
    if snapshot.ride_cap is not None:
        assert total <= quantize(snapshot.ride_cap, snapshot.currency)
    if snapshot.daily_cap is not None:
        assert total <= quantize(max(Decimal(0), snapshot.daily_cap - usage.spent_today), snapshot.currency)


@prop
@given(
    rides(),
    st.sampled_from(
        ["unlock_waived", "free_minutes", "minute_pack_minutes_available", "percent_off", "fixed_off"]
    ),
)
def test_benefits_never_increase_the_fare(
    ride: tuple[TariffSnapshot, RideUsage, Benefits], drop: str
) -> None:
    snapshot, usage, benefits = ride
    empty: dict[str, Any] = {
        "unlock_waived": False,
        "free_minutes": 0,
        "minute_pack_minutes_available": 0,
        "percent_off": None,
        "fixed_off": None,
    }
    fewer = dataclasses.replace(benefits, **{drop: empty[drop]})
    with_all = compute_fare(snapshot, usage, benefits).total
    assert with_all <= compute_fare(snapshot, usage, fewer).total
    assert with_all <= compute_fare(snapshot, usage, NO_BENEFITS).total


@prop
@given(snapshots())
def test_snapshot_json_round_trip_is_exact(snapshot: TariffSnapshot) -> None:
    data = json.loads(json.dumps(snapshot.to_json()))
    again = TariffSnapshot.from_json(data)
    assert again == snapshot
    assert again.to_json() == snapshot.to_json()  # the same digits, not only equal values
    assert str(again.unlock_fee) == str(snapshot.unlock_fee)


@prop
@given(rides())
def test_running_cost_is_the_fare_so_far_and_the_next_minute_never_refunds(
    ride: tuple[TariffSnapshot, RideUsage, Benefits],
) -> None:
    snapshot, usage, benefits = ride
    for paused in (False, True):
        running = running_cost(snapshot, usage, benefits, paused=paused)
        assert running.fare == compute_fare(snapshot, usage, benefits)
        assert running.next_minute_adds >= 0
        assert 1 <= running.seconds_to_next_minute <= 60


@prop
@given(snapshots(), st.integers(0, 3600), st.integers(0, 3600))
def test_reservation_fee_is_quantized_and_monotone(
    snapshot: TariffSnapshot, seconds: int, extra: int
) -> None:
    fee = reservation_fee(snapshot, seconds)
    assert fee >= 0 and fee == quantize(fee, snapshot.currency)
    assert reservation_fee(snapshot, seconds + extra) >= fee


@prop
@given(st.lists(st.decimals("-50", "50", places=6), min_size=1, max_size=12), st.sampled_from(CURRENCIES))
def test_rounding_moves_each_line_by_less_than_a_minor_unit_and_keeps_its_sign(
    exact: list[Decimal],
    currency: str,
) -> None:
    from billing.fares import FareLine

    lines = [FareLine("x", "x", Decimal(1), None, amount) for amount in exact]
    total = quantize(sum(exact, Decimal(0)), currency)
    rounded = [line.amount for line in rounding.allocate(lines, total, currency)]
    unit = Decimal(1).scaleb(-minor_units(currency))
    assert sum(rounded, Decimal(0)) == total
    for before, after in zip(exact, rounded, strict=True):
        assert abs(after - before) < unit
        assert after == after.quantize(unit)
        assert (before > 0 and after >= 0) or (before < 0 and after <= 0) or (before == 0 and after == 0)
