"""GBFS system_pricing_plans export: valid against the official JSON Schemas, and loud about what it drops."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import gbfs_pricing
from billing.fares import PriceBracket, RideUsage, TariffSnapshot, ZoneAdjustment, compute_fare
from core.money import quantize
from tests.billing.test_fares_properties import prop, snapshots

SPECS = Path(__file__).resolve().parents[1] / "feeds" / "schemas" / "gbfs"  # the official schemas (README there)
VERSIONS: tuple[gbfs_pricing.GbfsVersion, ...] = ("3.0", "3.1-RC3")


def validate(plan: dict[str, Any], version: gbfs_pricing.GbfsVersion) -> dict[str, Any]:
    """Wrap the plan in a full feed document and validate it against the official schema."""
    feed = gbfs_pricing.pricing_plans_feed([plan], last_updated=datetime.now(UTC), ttl=300, version=version)
    document = json.loads(json.dumps(feed))  # what a client receives: plain JSON, no Decimals
    schema = json.loads((SPECS / f"v{version}" / "system_pricing_plans.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(
        document
    )
    # The schema's "date-time" format is only enforced with rfc3339-validator installed: check it here.
    assert datetime.fromisoformat(document["last_updated"]).tzinfo is not None
    return document


def simple(**overrides: Any) -> TariffSnapshot:
    fields: dict[str, Any] = {
        "tariff_id": "berlin-scooter",
        "version": 2,
        "currency": "EUR",
        "unlock_fee": D("1.00"),
        "brackets": (PriceBracket(0, D("0.25")),),
        "vat_rate": D("0.19"),
    }
    return TariffSnapshot(**{**fields, **overrides})


def full() -> TariffSnapshot:
    return simple(
        brackets=(PriceBracket(0, D("0.30")), PriceBracket(10, D("0.20")), PriceBracket(30, D("0.15"))),
        free_minutes=5,
        per_km=D("0.10"),
        pause_per_minute=D("0.05"),
        reservation_mode="per_minute",
        reservation_per_minute=D("0.10"),
        reservation_free_minutes=10,
        ride_cap=D("15.00"),
        daily_cap=D("25.00"),
        minimum_fare=D("1.50"),
        zone_adjustments=(ZoneAdjustment("airport", "Airport", D("2.00")),),
    )


def codes(warnings: list[gbfs_pricing.GbfsWarning]) -> list[str]:
    return [w.code for w in warnings]


def test_a_simple_tariff_exports_exactly_and_without_warnings() -> None:
    plan, warnings = gbfs_pricing.to_gbfs_plan(simple(), plan_id="berlin-scooter", name="Scooter")
    assert plan == {
        "plan_id": "berlin-scooter",
        "name": [{"text": "Scooter", "language": "en"}],
        "currency": "EUR",
        "price": 1,
        "is_taxable": False,
        "description": [{"text": "unlock 1.00 + 0.25/min", "language": "en"}],
        "per_min_pricing": [{"start": 0, "rate": 0.25, "interval": 1}],
    }
    assert warnings == []
    validate(plan, "3.0")


def test_brackets_and_free_minutes_become_segments_and_the_rest_becomes_warnings_in_v30() -> None:
    plan, warnings = gbfs_pricing.to_gbfs_plan(
        full(),
        plan_id="p1",
        name={"de": "E-Scooter", "en": "E-scooter"},
        description="Scooter tariff",
        language="en",
        url="https://freewheel.example/prices",
    )
    assert plan["per_min_pricing"] == [
        {"start": 5, "rate": 0.3, "interval": 1, "end": 10},  # minutes 0-4 are free: no segment
        {"start": 10, "rate": 0.2, "interval": 1, "end": 30},
        {"start": 30, "rate": 0.15, "interval": 1},
    ]
    assert plan["per_km_pricing"] == [{"start": 0, "rate": 0.1, "interval": 1}]
    assert plan["name"] == [{"text": "E-Scooter", "language": "de"}, {"text": "E-scooter", "language": "en"}]
    assert codes(warnings) == [
        "distance_prorated",
        "pause_rate",
        "ride_cap",
        "daily_cap",
        "minimum_fare",
        "reservation_fee",
        "zone_adjustments",
    ]
    assert "0.10/min after 10 free minutes" in warnings[5].message
    assert "Airport +2.00" in warnings[6].message
    assert not {"fare_capping", "reservation_price_per_min"} & set(plan)
    validate(plan, "3.0")


def test_v31_carries_the_daily_cap_and_reservation_price() -> None:
    plan, warnings = gbfs_pricing.to_gbfs_plan(full(), plan_id="p1", name="E-scooter", version="3.1-RC3")
    assert plan["fare_capping"] == {"duration": 1440, "price": 25}
    assert plan["reservation_price_per_min"] == 0.1
    assert codes(warnings) == [
        "distance_prorated",
        "pause_rate",
        "ride_cap",
        "daily_cap_window",
        "minimum_fare",
        "reservation_free_minutes",
        "zone_adjustments",
    ]
    validate(plan, "3.1-RC3")
    # The v3.1 reservation fields exclude each other (schema "dependencies"): only one is ever set.
    assert "reservation_price_flat_rate" not in plan


def test_flat_reservation_in_v31() -> None:
    snapshot = simple(reservation_mode="flat", reservation_flat_fee=D("0.50"))
    plan, warnings = gbfs_pricing.to_gbfs_plan(snapshot, plan_id="p", name="n", version="3.1-RC3")
    assert plan["reservation_price_flat_rate"] == 0.5 and "reservation_price_per_min" not in plan
    assert warnings == []
    validate(plan, "3.1-RC3")


@pytest.mark.parametrize("name", [{"de_DE": "Roller"}, {"EN": "Scooter"}, {}])
def test_language_codes_must_be_valid_for_gbfs(name: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="language code"):
        gbfs_pricing.to_gbfs_plan(simple(), plan_id="p", name=name)


def test_feed_needs_an_aware_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        gbfs_pricing.pricing_plans_feed([], last_updated=datetime(2026, 1, 1), ttl=0)  # noqa: DTZ001


@prop
@given(snapshots())
def test_every_snapshot_exports_a_valid_plan_and_flags_what_it_drops(snapshot: TariffSnapshot) -> None:
    for version in VERSIONS:
        plan, warnings = gbfs_pricing.to_gbfs_plan(snapshot, plan_id="p", name="n", version=version)
        validate(plan, version)
        found = set(codes(warnings))
        assert ("pause_rate" in found) == (snapshot.pause_per_minute > 0)
        assert ("ride_cap" in found) == (snapshot.ride_cap is not None)
        assert ("minimum_fare" in found) == (snapshot.minimum_fare > 0)
        assert ("zone_adjustments" in found) == bool(snapshot.zone_adjustments)
        assert ("distance_prorated" in found) == bool(snapshot.per_km)
        has_reservation = snapshot.reservation_mode != "free"
        if version == "3.0":
            assert ("daily_cap" in found) == (snapshot.daily_cap is not None)
            assert ("reservation_fee" in found) == has_reservation
        else:
            assert ("fare_capping" in plan) == (snapshot.daily_cap is not None)
            free_reservation = has_reservation and snapshot.reservation_free_minutes > 0
            assert ("reservation_free_minutes" in found) == free_reservation


def gbfs_time_price(plan: dict[str, Any], minutes: int) -> D:
    """An independent reading of GBFS per_min_pricing: each segment's rate is charged at the start of
    every interval from ``start`` up to (not including) ``end``; the ride lasts ``minutes`` started minutes."""
    total = D(str(plan["price"]))
    for seg in plan.get("per_min_pricing", []):
        stop = min(seg.get("end", minutes), minutes)
        charges = max(0, -(-(stop - seg["start"]) // seg["interval"]))
        total += charges * D(str(seg["rate"]))
    return total


@prop
@given(snapshots(), st.integers(0, 240))
def test_gbfs_segments_price_riding_time_like_the_engine(snapshot: TariffSnapshot, minutes: int) -> None:
    # Only what GBFS can express: unlock, brackets, free minutes (caps and minimum fare come as warnings).
    snapshot = dataclasses.replace(snapshot, minimum_fare=D(0), ride_cap=None, daily_cap=None)
    plan, _ = gbfs_pricing.to_gbfs_plan(snapshot, plan_id="p", name="n")
    fare = compute_fare(snapshot, RideUsage(riding_seconds=minutes * 60))
    assert quantize(gbfs_time_price(plan, minutes), snapshot.currency) == fare.total
