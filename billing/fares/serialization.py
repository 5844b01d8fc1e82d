"""JSON form of a tariff snapshot (stored on every ride) and of a fare (stored on every receipt).

Money and rates are written as exact ``Decimal`` strings (``str(Decimal("1.50")) == "1.50"``), never as
floats, so ``TariffSnapshot.from_json(s.to_json()) == s`` with the same digits. ``schema`` numbers the
layout so a future change can still read the snapshots of old rides.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from billing.fares.types import Fare, FareLine, PriceBracket, TariffInvalid, TariffSnapshot, ZoneAdjustment

SCHEMA = 1
_MONEY = (
    "unlock_fee",
    "pause_per_minute",
    "reservation_flat_fee",
    "reservation_per_minute",
    "minimum_fare",
    "vat_rate",
)
_OPTIONAL_MONEY = ("per_km", "ride_cap", "daily_cap")
_INTS = ("version", "reservation_free_minutes", "free_minutes")
_STRINGS = ("tariff_id", "currency", "reservation_mode")
_KEYS = frozenset(("schema", "brackets", "zone_adjustments", *_MONEY, *_OPTIONAL_MONEY, *_INTS, *_STRINGS))


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def snapshot_to_json(snapshot: TariffSnapshot) -> dict[str, object]:
    data: dict[str, object] = {"schema": SCHEMA}
    for name in _STRINGS + _INTS:
        data[name] = getattr(snapshot, name)
    for name in _MONEY + _OPTIONAL_MONEY:
        data[name] = _dec(getattr(snapshot, name))
    data["brackets"] = [
        {"start_minute": b.start_minute, "per_minute": str(b.per_minute)} for b in snapshot.brackets
    ]
    data["zone_adjustments"] = [
        {"zone_id": z.zone_id, "name": z.name, "amount": str(z.amount)} for z in snapshot.zone_adjustments
    ]
    return data


def _parse_dec(name: str, raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise TariffInvalid(f"{name} must be a decimal string, got {raw!r}")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise TariffInvalid(f"{name} is not a decimal: {raw!r}") from exc


def _parse_list(name: str, raw: Any, keys: set[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) and set(item) == keys for item in raw):
        raise TariffInvalid(f"{name} must be a list of objects with keys {sorted(keys)}")
    return raw


def snapshot_from_json(data: object) -> TariffSnapshot:
    """Rebuild a snapshot; raises ``TariffInvalid`` on a missing, unknown or malformed field."""
    if not isinstance(data, dict) or set(data) != _KEYS:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise TariffInvalid(f"a tariff snapshot needs exactly the keys {sorted(_KEYS)}, got {got}")
    if data["schema"] != SCHEMA:
        raise TariffInvalid(f"unknown tariff snapshot schema {data['schema']!r}")
    kwargs: dict[str, Any] = {name: data[name] for name in _STRINGS + _INTS}
    kwargs.update({name: _parse_dec(name, data[name]) for name in _MONEY})
    kwargs.update(
        {name: None if data[name] is None else _parse_dec(name, data[name]) for name in _OPTIONAL_MONEY}
    )
    brackets = _parse_list("brackets", data["brackets"], {"start_minute", "per_minute"})
    kwargs["brackets"] = tuple(
        PriceBracket(b["start_minute"], _parse_dec("per_minute", b["per_minute"])) for b in brackets
    )
    zones = _parse_list("zone_adjustments", data["zone_adjustments"], {"zone_id", "name", "amount"})
    kwargs["zone_adjustments"] = tuple(
        ZoneAdjustment(z["zone_id"], z["name"], _parse_dec("amount", z["amount"])) for z in zones
    )
    return TariffSnapshot(**kwargs)


def fare_to_json(fare: Fare) -> dict[str, object]:
    """A receipt-ready form: every amount a decimal string in the fare's currency."""
    return {
        "currency": fare.currency,
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_price": _dec(line.unit_price),
                "amount": str(line.amount),
            }
            for line in fare.lines
        ],
        "subtotal": str(fare.subtotal),
        "discounts": str(fare.discounts),
        "total": str(fare.total),
        "vat_rate": str(fare.vat_rate),
        "vat_amount": str(fare.vat_amount),
        "net_amount": str(fare.net_amount),
        "capped": fare.capped,
        "minutes_from_pack_used": fare.minutes_from_pack_used,
    }


_FARE_MONEY = ("subtotal", "discounts", "total", "vat_rate", "vat_amount", "net_amount")


def fare_from_json(data: object) -> Fare:
    """Read back ``fare_to_json`` (e.g. a stored receipt); raises ``TariffInvalid`` on anything else."""
    keys = {"currency", "lines", "capped", "minutes_from_pack_used", *_FARE_MONEY}
    if not isinstance(data, dict) or set(data) != keys:
        raise TariffInvalid(f"a fare needs exactly the keys {sorted(keys)}")
    raw_lines = _parse_list(
        "lines", data["lines"], {"kind", "description", "quantity", "unit_price", "amount"}
    )
    lines = tuple(
        FareLine(
            str(line["kind"]),
            str(line["description"]),
            _parse_dec("quantity", line["quantity"]),
            None if line["unit_price"] is None else _parse_dec("unit_price", line["unit_price"]),
            _parse_dec("amount", line["amount"]),
        )
        for line in raw_lines
    )
    money = {name: _parse_dec(name, data[name]) for name in _FARE_MONEY}
    return Fare(
        lines=lines,
        currency=str(data["currency"]),
        capped=bool(data["capped"]),
        minutes_from_pack_used=int(data["minutes_from_pack_used"]),
        **money,
    )
