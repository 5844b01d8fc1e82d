"""Worked examples of the fare engine: each one is a receipt a person can check by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from billing.fares import (
    Benefits,
    Fare,
    PriceBracket,
    RideUsage,
    TariffSnapshot,
    ZoneAdjustment,
    compute_fare,
    reservation_fee,
    running_cost,
)


def tariff(**overrides: object) -> TariffSnapshot:
    fields: dict[str, object] = {
        "tariff_id": "berlin-scooter",
        "version": 3,
        "currency": "EUR",
        "unlock_fee": D("1.00"),
        "brackets": (PriceBracket(0, D("0.25")),),
        "vat_rate": D("0.19"),
    }
    return TariffSnapshot(**{**fields, **overrides})  # type: ignore[arg-type]


def lines(fare: Fare) -> list[tuple[str, str, str]]:
    return [(line.kind, str(line.quantity), str(line.amount)) for line in fare.lines]


@pytest.mark.parametrize(
    ("seconds", "total"),
    [(0, "1.00"), (1, "1.25"), (60, "1.25"), (61, "1.50"), (600, "3.50"), (601, "3.75")],
)
def test_time_is_billed_per_started_minute(seconds: int, total: str) -> None:
    assert compute_fare(tariff(), RideUsage(riding_seconds=seconds)).total == D(total)


def test_brackets_and_free_minutes_itemised() -> None:
    snapshot = tariff(brackets=(PriceBracket(0, D("0.30")), PriceBracket(10, D("0.20"))), free_minutes=3)
    fare = compute_fare(snapshot, RideUsage(riding_seconds=14 * 60 + 5))  # 15 started minutes
    assert lines(fare) == [
        ("unlock", "1", "1.00"),
        ("free_minutes", "3", "0.00"),
        ("riding", "7", "2.10"),  # minutes 4-10 at 0.30
        ("riding", "5", "1.00"),  # minutes 11-15 at 0.20
    ]
    assert (fare.subtotal, fare.discounts, fare.total) == (D("4.10"), D("0.00"), D("4.10"))
    assert [line.description for line in fare.lines[2:]] == ["Riding minutes 4-10", "Riding minutes 11-15"]


def test_pause_reservation_and_distance_lines() -> None:
    snapshot = tariff(
        pause_per_minute=D("0.05"),
        per_km=D("0.12"),
        reservation_mode="per_minute",
        reservation_per_minute=D("0.10"),
        reservation_free_minutes=5,
    )
    usage = RideUsage(riding_seconds=300, paused_seconds=150, reserved_seconds=8 * 60 + 1, distance_m=2500)
    assert lines(compute_fare(snapshot, usage)) == [
        ("unlock", "1", "1.00"),
        ("riding", "5", "1.25"),
        ("pause", "3", "0.15"),
        ("reservation", "4", "0.40"),  # 8 min 1 s reserved: 5 free, then 4 started minutes
        ("distance", "2.5", "0.30"),
    ]


def test_vat_is_shown_as_included() -> None:
    fare = compute_fare(tariff(unlock_fee=D("11.90")), RideUsage())
    assert (fare.total, fare.vat_amount, fare.net_amount) == (D("11.90"), D("1.90"), D("10.00"))


def test_rounding_happens_once_and_lines_still_add_up() -> None:
    snapshot = tariff(unlock_fee=D("0"), brackets=(PriceBracket(0, D("0.125")),), pause_per_minute=D("0.125"))
    fare = compute_fare(snapshot, RideUsage(riding_seconds=60, paused_seconds=60))
    # exact 0.125 + 0.125 = 0.25; rounding each line half-up would have made 0.26
    assert fare.total == D("0.25")
    assert lines(fare) == [("unlock", "1", "0.00"), ("riding", "1", "0.13"), ("pause", "1", "0.12")]


def test_yen_has_no_minor_units() -> None:
    snapshot = tariff(currency="JPY", unlock_fee=D("150"), brackets=(PriceBracket(0, D("22.5")),))
    fare = compute_fare(snapshot, RideUsage(riding_seconds=180))
    assert fare.total == D("218")  # 150 + 67.5, half-up


def test_minimum_fare_tops_up_a_short_ride() -> None:
    fare = compute_fare(tariff(minimum_fare=D("2.00")), RideUsage(riding_seconds=30))
    assert lines(fare)[-1] == ("minimum_fare", "1", "0.75")
    assert fare.total == D("2.00")


def test_pass_covers_unlock_and_first_minutes_and_then_no_minimum_fare_applies() -> None:
    benefits = Benefits(unlock_waived=True, free_minutes=10)
    fare = compute_fare(tariff(minimum_fare=D("2.00")), RideUsage(riding_seconds=8 * 60), benefits)
    assert lines(fare) == [
        ("unlock", "1", "1.00"),
        ("riding", "8", "2.00"),
        ("unlock_waived", "1", "-1.00"),
        ("pass_minutes", "8", "-2.00"),
    ]
    assert (fare.total, fare.subtotal, fare.discounts) == (D("0.00"), D("3.00"), D("3.00"))


def test_pass_minutes_go_before_minute_pack_minutes() -> None:
    benefits = Benefits(free_minutes=5, minute_pack_minutes_available=30)
    fare = compute_fare(tariff(), RideUsage(riding_seconds=12 * 60), benefits)
    assert fare.minutes_from_pack_used == 7
    assert lines(fare)[-2:] == [("pass_minutes", "5", "-1.25"), ("minute_pack", "7", "-1.75")]
    assert fare.total == D("1.00")


def test_pack_minutes_are_not_spent_on_free_or_zero_priced_minutes() -> None:
    snapshot = tariff(free_minutes=5, brackets=(PriceBracket(0, D("0.25")), PriceBracket(10, D("0"))))
    fare = compute_fare(
        snapshot, RideUsage(riding_seconds=20 * 60), Benefits(minute_pack_minutes_available=50)
    )
    assert fare.minutes_from_pack_used == 5  # only minutes 6-10 cost anything
    assert fare.total == D("1.00")


def test_ride_cap_limits_a_long_ride() -> None:
    fare = compute_fare(tariff(ride_cap=D("15.00")), RideUsage(riding_seconds=3 * 3600))
    assert fare.capped and fare.total == D("15.00")
    assert lines(fare)[-1] == ("ride_cap", "1", "-31.00")  # 1.00 + 180 x 0.25 = 46.00


@pytest.mark.parametrize(
    ("spent", "total"), [("0", "4.00"), ("22.00", "3.00"), ("25.00", "0.00"), ("30", "0.00")]
)
def test_daily_cap_counts_what_was_spent_today(spent: str, total: str) -> None:
    snapshot = tariff(daily_cap=D("25.00"))
    fare = compute_fare(snapshot, RideUsage(riding_seconds=12 * 60, spent_today=D(spent)))
    assert fare.total == D(total)
    assert fare.capped == (D(total) < D("4.00"))


def test_caps_win_over_the_minimum_fare() -> None:
    snapshot = tariff(minimum_fare=D("2.00"), daily_cap=D("10.00"))
    fare = compute_fare(snapshot, RideUsage(riding_seconds=60, spent_today=D("9.50")))
    assert fare.total == D("0.50")
    assert [kind for kind, _, _ in lines(fare)] == ["unlock", "riding", "minimum_fare", "daily_cap"]


def test_zone_surcharge_and_bonus_and_bonus_never_below_zero() -> None:
    zones = (
        ZoneAdjustment("airport", "Airport", D("2.00")),
        ZoneAdjustment("hub", "Mobility hub", D("-0.50")),
    )
    snapshot = tariff(zone_adjustments=zones)
    both = compute_fare(snapshot, RideUsage(riding_seconds=60, zone_ids=("hub", "airport")))
    assert lines(both)[-2:] == [("zone_surcharge", "1", "2.00"), ("zone_bonus", "1", "-0.50")]
    assert both.total == D("2.75")
    pass_ride = Benefits(unlock_waived=True, free_minutes=1)
    covered = compute_fare(snapshot, RideUsage(riding_seconds=60, zone_ids=("hub",)), pass_ride)
    assert covered.total == D("0.00")
    assert "zone_bonus" not in [kind for kind, _, _ in lines(covered)]  # nothing left to discount


def test_promos_apply_after_caps_percent_then_fixed() -> None:
    snapshot = tariff(ride_cap=D("10.00"))
    benefits = Benefits(percent_off=D("20"), fixed_off=D("1.50"))
    fare = compute_fare(snapshot, RideUsage(riding_seconds=3600), benefits)
    assert lines(fare)[-3:] == [
        ("ride_cap", "1", "-6.00"),
        ("promo_percent", "1", "-2.00"),
        ("promo_fixed", "1", "-1.50"),
    ]
    assert fare.total == D("6.50")


def test_fixed_promo_never_makes_the_fare_negative() -> None:
    fare = compute_fare(tariff(), RideUsage(riding_seconds=60), Benefits(fixed_off=D("5.00")))
    assert fare.total == D("0.00")
    assert lines(fare)[-1] == ("promo_fixed", "1", "-1.25")


@pytest.mark.parametrize(
    ("mode", "seconds", "fee"),
    [
        ("free", 900, "0.00"),
        ("flat", 0, "0.00"),
        ("flat", 300, "0.00"),
        ("flat", 301, "0.50"),
        ("per_minute", 300, "0.00"),
        ("per_minute", 301, "0.10"),
        ("per_minute", 900, "1.00"),
    ],
)
def test_reservation_fee_modes(mode: str, seconds: int, fee: str) -> None:
    snapshot = tariff(
        reservation_mode=mode,
        reservation_flat_fee=D("0.50"),
        reservation_per_minute=D("0.10"),
        reservation_free_minutes=5,
    )
    assert reservation_fee(snapshot, seconds) == D(fee)


def test_running_cost_of_an_open_ride() -> None:
    snapshot = tariff(
        brackets=(PriceBracket(0, D("0.25")), PriceBracket(10, D("0.15"))), pause_per_minute=D("0.05")
    )
    running = running_cost(snapshot, RideUsage(riding_seconds=9 * 60 + 20))
    assert running.fare.total == D("3.50")
    assert (running.per_minute, running.next_minute_adds, running.seconds_to_next_minute) == (
        D("0.15"),
        D("0.15"),
        41,
    )
    paused = running_cost(snapshot, RideUsage(riding_seconds=600, paused_seconds=60), paused=True)
    assert (paused.per_minute, paused.next_minute_adds, paused.seconds_to_next_minute) == (
        D("0.05"),
        D("0.05"),
        1,
    )


def test_running_cost_next_minute_is_free_inside_a_pass_and_at_the_cap() -> None:
    in_pass = running_cost(tariff(), RideUsage(riding_seconds=60), Benefits(free_minutes=5))
    assert (in_pass.per_minute, in_pass.next_minute_adds) == (D("0.25"), D("0.00"))
    capped = running_cost(tariff(ride_cap=D("2.00")), RideUsage(riding_seconds=600))
    assert (capped.fare.total, capped.next_minute_adds) == (D("2.00"), D("0.00"))
