"""Export a tariff snapshot as a GBFS ``system_pricing_plans`` plan (v3.0, or v3.1-RC3).

GBFS describes a price as an unlock ``price`` plus ``per_min_pricing`` / ``per_km_pricing`` segments, each
charged at the start of every interval: that is our per-started-minute billing, so brackets and the
tariff's free minutes export exactly. Everything a plan cannot say (pause rate, caps, minimum fare,
reservation fees in v3.0, zone adjustments, distance prorated per metre) comes back as a ``GbfsWarning``
next to the plan: the caller shows or logs them, nothing is dropped silently. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from billing import fares
from billing.fares import engine
from billing.fares.types import TariffSnapshot

GbfsVersion = Literal["3.0", "3.1-RC3"]
Plan = dict[str, object]


@dataclass(frozen=True, slots=True)
class GbfsWarning:
    """Part of a tariff the plan does not carry. ``code`` is stable: pause_rate, ride_cap, daily_cap,
    daily_cap_window, minimum_fare, reservation_fee, reservation_free_minutes, zone_adjustments,
    distance_prorated."""

    code: str
    message: str


def _number(value: Decimal) -> float | int:
    # JSON numbers: GBFS has no decimal strings. Integral amounts stay ints ("price": 1 not 1.0).
    return int(value) if value == value.to_integral_value() else float(value)


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")  # the pattern GBFS v3 requires


def _texts(value: str | Mapping[str, str], language: str) -> list[dict[str, str]]:
    items = {language: value} if isinstance(value, str) else dict(value)
    bad = [lang for lang in items if not _LANGUAGE.match(lang)]
    if bad or not items:
        raise ValueError(f"GBFS texts need at least one IETF language code like 'en' or 'de-CH', got {bad}")
    return [{"text": text, "language": lang} for lang, text in items.items()]


def to_gbfs_plan(
    snapshot: TariffSnapshot,
    *,
    plan_id: str,
    name: str | Mapping[str, str],
    description: str | Mapping[str, str] | None = None,
    language: str = "en",
    url: str | None = None,
    surge_pricing: bool = False,
    version: GbfsVersion = "3.0",
) -> tuple[Plan, list[GbfsWarning]]:
    """One plan plus the warnings for what it cannot express.

    ``name``/``description`` are a text in ``language`` or a mapping language -> text; the description
    defaults to the English quote ("unlock 1.00 + 0.25/min; ..."). Prices are VAT-inclusive, so
    ``is_taxable`` is false.
    """
    text = description if description is not None else {"en": fares.quote(snapshot).text}
    plan: Plan = {
        "plan_id": plan_id,
        "name": _texts(name, language),
        "currency": snapshot.currency,
        "price": _number(snapshot.unlock_fee),
        "is_taxable": False,
        "description": _texts(text, language),
    }
    optional = {
        "url": url,
        "per_min_pricing": per_min_pricing(snapshot) or None,
        "surge_pricing": surge_pricing or None,
    }
    plan.update({key: value for key, value in optional.items() if value is not None})
    warnings = _distance(snapshot, plan) + _pause(snapshot) + _caps(snapshot, plan, version)
    warnings += _minimum(snapshot) + _reservation(snapshot, plan, version) + _zones(snapshot)
    return plan, warnings


def per_min_pricing(snapshot: TariffSnapshot) -> list[dict[str, float | int]]:
    """Brackets as segments; the tariff's free minutes move the first charged segment's start."""
    segments: list[dict[str, float | int]] = []
    unbounded = 10**9  # charged_segments needs a ride length; the last segment's end is dropped below
    for seg in engine.charged_segments(snapshot, unbounded):
        if seg.rate == 0:
            continue  # a free stretch is simply a stretch without a segment
        item: dict[str, float | int] = {"start": seg.start, "rate": _number(seg.rate), "interval": 1}
        if seg.end != unbounded:
            item["end"] = seg.end
        segments.append(item)
    return segments


def _distance(snapshot: TariffSnapshot, plan: Plan) -> list[GbfsWarning]:
    if snapshot.per_km is None or snapshot.per_km == 0:
        return []
    plan["per_km_pricing"] = [{"start": 0, "rate": _number(snapshot.per_km), "interval": 1}]
    return [
        GbfsWarning(
            "distance_prorated",
            f"Distance costs {snapshot.per_km}/km prorated per metre; "
            "GBFS per_km_pricing charges each started kilometre, so feeds overstate it by "
            "up to one kilometre's price.",
        )
    ]


def _pause(snapshot: TariffSnapshot) -> list[GbfsWarning]:
    if snapshot.pause_per_minute == 0:
        return []
    return [
        GbfsWarning(
            "pause_rate", f"Paused minutes cost {snapshot.pause_per_minute}/min; GBFS has no pause rate."
        )
    ]


def _caps(snapshot: TariffSnapshot, plan: Plan, version: GbfsVersion) -> list[GbfsWarning]:
    warnings = []
    if snapshot.ride_cap is not None:
        warnings.append(
            GbfsWarning("ride_cap", f"A ride costs at most {snapshot.ride_cap}; GBFS has no per-ride cap.")
        )
    if snapshot.daily_cap is None:
        return warnings
    if version == "3.0":
        warnings.append(
            GbfsWarning(
                "daily_cap",
                f"Rides cost at most {snapshot.daily_cap} per day; GBFS "
                "v3.0 has no fare capping (v3.1 fare_capping has).",
            )
        )
        return warnings
    plan["fare_capping"] = {"duration": 1440, "price": _number(snapshot.daily_cap)}
    warnings.append(
        GbfsWarning(
            "daily_cap_window",
            "The daily cap runs per calendar day in the city's "
            "time zone; fare_capping says only 1440 minutes.",
        )
    )
    return warnings


def _minimum(snapshot: TariffSnapshot) -> list[GbfsWarning]:
    if snapshot.minimum_fare == 0:
        return []
    return [
        GbfsWarning(
            "minimum_fare", f"A ride costs at least {snapshot.minimum_fare}; GBFS has no minimum fare."
        )
    ]


def _reservation(snapshot: TariffSnapshot, plan: Plan, version: GbfsVersion) -> list[GbfsWarning]:
    mode = snapshot.reservation_mode
    if mode == "free":
        return []
    fee = snapshot.reservation_flat_fee if mode == "flat" else snapshot.reservation_per_minute
    unit = "" if mode == "flat" else "/min"
    if version == "3.0":
        return [
            GbfsWarning(
                "reservation_fee",
                f"Reserving costs {fee}{unit}{_after_free(snapshot)}; GBFS v3.0 has no reservation price.",
            )
        ]
    plan["reservation_price_flat_rate" if mode == "flat" else "reservation_price_per_min"] = _number(fee)
    if not snapshot.reservation_free_minutes:
        return []
    return [
        GbfsWarning(
            "reservation_free_minutes",
            f"The first {snapshot.reservation_free_minutes} "
            "reserved minutes are free; GBFS reservation prices have no free minutes.",
        )
    ]


def _after_free(snapshot: TariffSnapshot) -> str:
    free = snapshot.reservation_free_minutes
    return f" after {free} free minutes" if free else ""


def _zones(snapshot: TariffSnapshot) -> list[GbfsWarning]:
    if not snapshot.zone_adjustments:
        return []
    parts = ", ".join(f"{z.name} {z.amount:+}" for z in snapshot.zone_adjustments)
    return [GbfsWarning("zone_adjustments", f"Zone adjustments ({parts}) are not part of a GBFS plan.")]


def pricing_plans_feed(
    plans: list[Plan], *, last_updated: datetime, ttl: int, version: GbfsVersion = "3.0"
) -> dict[str, object]:
    """The full ``system_pricing_plans.json`` document around ``plans`` (``last_updated`` must be aware)."""
    if last_updated.tzinfo is None:
        raise ValueError("last_updated must be timezone-aware")
    return {
        "last_updated": last_updated.isoformat(timespec="seconds"),
        "ttl": ttl,
        "version": version,
        "data": {"plans": plans},
    }
