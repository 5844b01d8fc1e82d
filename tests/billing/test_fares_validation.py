"""The engine refuses bad tariffs, usages, benefits and stored snapshots with TariffInvalid (a ValueError)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from billing.fares import (
    Benefits,
    PriceBracket,
    RideUsage,
    TariffInvalid,
    TariffSnapshot,
    ZoneAdjustment,
    compute_fare,
    quote,
    reservation_fee,
)


def tariff(**overrides: Any) -> TariffSnapshot:
    fields: dict[str, Any] = {
        "tariff_id": "t",
        "version": 1,
        "currency": "EUR",
        "unlock_fee": D("1.00"),
        "brackets": (PriceBracket(0, D("0.25")),),
    }
    return TariffSnapshot(**{**fields, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {"tariff_id": ""},
        {"currency": "eur"},
        {"currency": "EURO"},
        {"unlock_fee": D("-0.01")},
        {"unlock_fee": 1.0},  # floats are refused: money is Decimal
        {"unlock_fee": D("NaN")},
        {"brackets": ()},
        {"brackets": (PriceBracket(5, D("0.25")),)},
        {"brackets": (PriceBracket(0, D("0.25")), PriceBracket(0, D("0.20")))},
        {"brackets": (PriceBracket(0, D("0.25")), PriceBracket(20, D("0.2")), PriceBracket(10, D("0.1")))},
        {"per_km": D("-1")},
        {"ride_cap": D("-1")},
        {"vat_rate": D("19")},
        {"free_minutes": -1},
        {"reservation_mode": "hourly"},
        {"zone_adjustments": (ZoneAdjustment("a", "A", D("1")), ZoneAdjustment("a", "A again", D("2")))},
    ],
)
def test_invalid_tariffs_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(TariffInvalid):
        tariff(**overrides)


def test_bracket_rates_must_not_be_negative() -> None:
    with pytest.raises(TariffInvalid):
        PriceBracket(0, D("-0.25"))


@pytest.mark.parametrize(
    "kwargs",
    [{"riding_seconds": -1}, {"distance_m": 1.5}, {"spent_today": D("-1")}, {"zone_ids": ("a", "a")}],
)
def test_invalid_usage_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TariffInvalid):
        RideUsage(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"percent_off": D("101")}, {"fixed_off": D("-1")}, {"free_minutes": -5}, {"percent_off": D("-1")}],
)
def test_invalid_benefits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TariffInvalid):
        Benefits(**kwargs)


def test_a_zone_the_tariff_does_not_know_is_refused() -> None:
    with pytest.raises(TariffInvalid, match="nowhere"):
        compute_fare(tariff(), RideUsage(riding_seconds=60, zone_ids=("nowhere",)))


def test_negative_reservation_seconds_are_refused() -> None:
    with pytest.raises(TariffInvalid):
        reservation_fee(tariff(), -1)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("unlock_fee", 1.0),
        ("unlock_fee", "abc"),
        ("schema", 2),
        ("brackets", [{"start_minute": 0}]),
        ("version", "1"),
        ("per_km", 0.1),
    ],
)
def test_a_malformed_stored_snapshot_is_refused(key: str, value: object) -> None:
    data = tariff().to_json()
    data[key] = value
    with pytest.raises(TariffInvalid):
        TariffSnapshot.from_json(data)


def test_a_stored_snapshot_with_missing_or_extra_keys_is_refused() -> None:
    data = tariff().to_json()
    with pytest.raises(TariffInvalid):
        TariffSnapshot.from_json({k: v for k, v in data.items() if k != "ride_cap"})
    with pytest.raises(TariffInvalid):
        TariffSnapshot.from_json({**data, "surprise": "1"})
    with pytest.raises(TariffInvalid):
        TariffSnapshot.from_json([])


def test_snapshot_json_keeps_the_digits() -> None:
    data = tariff(unlock_fee=D("1.50"), per_km=D("0.125")).to_json()
    assert (data["unlock_fee"], data["per_km"], data["ride_cap"]) == ("1.50", "0.125", None)
    assert data["brackets"] == [{"start_minute": 0, "per_minute": "0.25"}]


def test_quote_text_and_pieces() -> None:
    assert quote(tariff()).text == "unlock 1.00 + 0.25/min"
    rich = tariff(
        brackets=(PriceBracket(0, D("0.25")), PriceBracket(10, D("0.125"))),
        per_km=D("0.10"),
        free_minutes=5,
        pause_per_minute=D("0.05"),
        reservation_mode="flat",
        reservation_flat_fee=D("0.50"),
        reservation_free_minutes=10,
        ride_cap=D("15"),
    )
    q = quote(rich)
    assert q.text == (
        "unlock 1.00 + 0.25/min + 0.10/km; 0.125/min after 10 min; first 5 min free; pause 0.05/min; "
        "reservation 0.50 after 10 free min; max 15.00 per ride"
    )
    assert q.pieces[0].key == "unlock" and q.pieces[0].params == {"amount": "1.00", "currency": "EUR"}
    assert [p.key for p in q.pieces][3:5] == ["per_minute_after", "free_minutes"]
    assert q.pieces[3].params == {"amount": "0.125", "currency": "EUR", "minutes": "10"}


def test_a_malformed_stored_fare_is_refused() -> None:
    from billing.fares import Fare, compute_fare

    data = compute_fare(tariff(), RideUsage(riding_seconds=60)).to_json()
    lines = data["lines"]
    assert (
        data["total"] == "1.25"
        and isinstance(lines, list)
        and lines[1]
        == {
            "kind": "riding",
            "description": "Riding minute 1",
            "quantity": "1",
            "unit_price": "0.25",
            "amount": "0.25",
        }
    )
    with pytest.raises(TariffInvalid):
        Fare.from_json({**data, "total": 1.25})
    with pytest.raises(TariffInvalid):
        Fare.from_json({k: v for k, v in data.items() if k != "vat_amount"})


@pytest.mark.slow
def test_the_engine_is_pure_python_without_django_settings_or_models() -> None:
    import os
    import subprocess
    import sys

    script = (
        "import sys; from decimal import Decimal as D\n"
        "from billing import fares, gbfs_pricing\n"
        "s = fares.TariffSnapshot(tariff_id='t', version=1, currency='EUR', unlock_fee=D('1'),\n"
        "                         brackets=(fares.PriceBracket(0, D('0.25')),))\n"
        "assert fares.compute_fare(s, fares.RideUsage(riding_seconds=90)).total == D('1.50')\n"
        "gbfs_pricing.to_gbfs_plan(s, plan_id='p', name='n')\n"
        "loaded = [m for m in sys.modules if m.startswith(('billing.models', 'billing.services', 'billing.selectors'))]\n"
        "assert not loaded, loaded\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
