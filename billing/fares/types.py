"""The fare engine's value types: what a tariff snapshot, a ride's usage and a rider's benefits look like.

Everything here is a frozen dataclass holding ``Decimal`` money in the tariff's currency. Prices are
VAT-inclusive. Construction validates, so an invalid snapshot never reaches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

ReservationMode = Literal["free", "flat", "per_minute"]
RESERVATION_MODES: tuple[ReservationMode, ...] = ("free", "flat", "per_minute")
ZERO = Decimal(0)


class TariffInvalid(ValueError):
    """A snapshot, usage or benefit value breaks the engine's rules (negative price, unsorted brackets ...)."""


def check_money(name: str, value: object, *, allow_negative: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TariffInvalid(f"{name} must be a finite Decimal, got {value!r}")
    if not allow_negative and value < 0:
        raise TariffInvalid(f"{name} must not be negative, got {value}")


def check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TariffInvalid(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True, slots=True)
class PriceBracket:
    """From riding minute ``start_minute`` (0-based) on, each started minute costs ``per_minute``."""

    start_minute: int
    per_minute: Decimal

    def __post_init__(self) -> None:
        check_count("start_minute", self.start_minute)
        check_money("per_minute", self.per_minute)


@dataclass(frozen=True, slots=True)
class ZoneAdjustment:
    """A fixed amount added when a ride qualifies for a zone: positive is a surcharge, negative a bonus."""

    zone_id: str
    name: str
    amount: Decimal

    def __post_init__(self) -> None:
        if not self.zone_id:
            raise TariffInvalid("zone_id must not be empty")
        check_money("zone adjustment amount", self.amount, allow_negative=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSnapshot:
    """One version of a tariff, frozen into the ride that starts under it (see ``to_json``/``from_json``)."""

    tariff_id: str
    version: int
    currency: str
    unlock_fee: Decimal
    brackets: tuple[PriceBracket, ...]
    per_km: Decimal | None = None
    pause_per_minute: Decimal = ZERO
    reservation_mode: ReservationMode = "free"
    reservation_flat_fee: Decimal = ZERO
    reservation_per_minute: Decimal = ZERO
    reservation_free_minutes: int = 0
    ride_cap: Decimal | None = None
    daily_cap: Decimal | None = None
    free_minutes: int = 0
    minimum_fare: Decimal = ZERO
    vat_rate: Decimal = ZERO
    zone_adjustments: tuple[ZoneAdjustment, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.tariff_id, str) or not self.tariff_id:
            raise TariffInvalid("tariff_id must be a non-empty string")
        currency = self.currency
        if not (
            isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()
        ):
            raise TariffInvalid(f"currency must be an upper-case ISO-4217 code, got {self.currency!r}")
        check_count("version", self.version)
        for name in (
            "unlock_fee",
            "pause_per_minute",
            "reservation_flat_fee",
            "reservation_per_minute",
            "minimum_fare",
        ):
            check_money(name, getattr(self, name))
        for name in ("per_km", "ride_cap", "daily_cap"):
            if getattr(self, name) is not None:
                check_money(name, getattr(self, name))
        check_count("free_minutes", self.free_minutes)
        check_count("reservation_free_minutes", self.reservation_free_minutes)
        self._check_vat_rate()
        self._check_brackets()
        self._check_reservation_mode()
        self._check_zones()

    def _check_vat_rate(self) -> None:
        check_money("vat_rate", self.vat_rate)
        if self.vat_rate >= 1:
            raise TariffInvalid(f"vat_rate is a fraction (0.19 for 19 %), got {self.vat_rate}")

    def _check_brackets(self) -> None:
        if not isinstance(self.brackets, tuple) or not self.brackets:
            raise TariffInvalid("brackets must be a non-empty tuple of PriceBracket")
        if self.brackets[0].start_minute != 0:
            raise TariffInvalid("the first bracket must start at minute 0")
        starts = [b.start_minute for b in self.brackets]
        if any(a >= b for a, b in zip(starts, starts[1:], strict=False)):
            raise TariffInvalid(f"bracket start minutes must be strictly increasing, got {starts}")

    def _check_reservation_mode(self) -> None:
        if self.reservation_mode not in RESERVATION_MODES:
            raise TariffInvalid(f"reservation_mode must be one of {RESERVATION_MODES}")

    def _check_zones(self) -> None:
        if not isinstance(self.zone_adjustments, tuple):
            raise TariffInvalid("zone_adjustments must be a tuple")
        ids = [z.zone_id for z in self.zone_adjustments]
        if len(ids) != len(set(ids)):
            raise TariffInvalid("zone adjustment zone_ids must be unique")

    def zone_adjustment(self, zone_id: str) -> ZoneAdjustment:
        for adjustment in self.zone_adjustments:
            if adjustment.zone_id == zone_id:
                return adjustment
        raise TariffInvalid(f"zone {zone_id!r} has no adjustment in tariff {self.tariff_id} v{self.version}")

    def to_json(self) -> dict[str, object]:
        return _snapshot_to_json(self)

    @classmethod
    def from_json(cls, data: object) -> TariffSnapshot:
        return _snapshot_from_json(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class RideUsage:
    """What a ride used. ``spent_today`` is what the rider already paid today (city's calendar day), for the
    daily cap; ``zone_ids`` are the zones of ``TariffSnapshot.zone_adjustments`` that apply to this ride."""

    riding_seconds: int = 0
    paused_seconds: int = 0
    reserved_seconds: int = 0
    distance_m: int = 0
    spent_today: Decimal = ZERO
    zone_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("riding_seconds", "paused_seconds", "reserved_seconds", "distance_m"):
            check_count(name, getattr(self, name))
        check_money("spent_today", self.spent_today)
        if len(set(self.zone_ids)) != len(self.zone_ids):
            raise TariffInvalid("zone_ids must not repeat: each zone adjustment applies at most once")


@dataclass(frozen=True, slots=True, kw_only=True)
class Benefits:
    """What the rider's passes and promos give on this ride (the billing app decides which apply).

    ``percent_off`` is a percentage (``Decimal("20")`` is 20 % off); ``fixed_off`` an amount.
    """

    unlock_waived: bool = False
    free_minutes: int = 0
    minute_pack_minutes_available: int = 0
    percent_off: Decimal | None = None
    fixed_off: Decimal | None = None

    def __post_init__(self) -> None:
        check_count("free_minutes", self.free_minutes)
        check_count("minute_pack_minutes_available", self.minute_pack_minutes_available)
        if self.percent_off is not None:
            check_money("percent_off", self.percent_off)
            if self.percent_off > 100:
                raise TariffInvalid(f"percent_off is at most 100, got {self.percent_off}")
        if self.fixed_off is not None:
            check_money("fixed_off", self.fixed_off)


NO_BENEFITS = Benefits()


@dataclass(frozen=True, slots=True)
class FareLine:
    """One receipt line. ``kind`` is a stable key a client can localise; ``description`` is English.

    Charges have positive amounts, discounts and caps negative ones. ``unit_price`` is None when a line
    has no single unit price (a cap, a percentage promo, minutes spread over brackets).
    """

    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Fare:
    """An itemised fare. ``sum(line.amount) == total == subtotal - discounts``, all in minor units.

    ``subtotal`` sums the charge lines, ``discounts`` (a positive number) the lines that reduce the fare
    (benefits, zone bonuses, caps, promos). ``vat_amount`` is the VAT included in ``total``.
    """

    lines: tuple[FareLine, ...]
    subtotal: Decimal
    discounts: Decimal
    total: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    net_amount: Decimal
    currency: str
    capped: bool
    minutes_from_pack_used: int

    def to_json(self) -> dict[str, object]:
        return _fare_to_json(self)

    @classmethod
    def from_json(cls, data: object) -> Fare:
        return _fare_from_json(data)


@dataclass(frozen=True, slots=True)
class QuotePiece:
    """One localisable part of a quote: a message ``key`` plus its parameters as strings."""

    key: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """What a rider sees before unlocking: the structured prices and a short English text."""

    tariff_id: str
    version: int
    currency: str
    unlock_fee: Decimal
    per_minute: Decimal
    brackets: tuple[PriceBracket, ...]
    per_km: Decimal | None
    pause_per_minute: Decimal
    free_minutes: int
    minimum_fare: Decimal
    ride_cap: Decimal | None
    daily_cap: Decimal | None
    pieces: tuple[QuotePiece, ...]
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningCost:
    """The fare of an open ride if it ended now (``fare``), plus what comes next.

    ``per_minute`` is the tariff rate of the ride's current state (riding bracket or pause);
    ``next_minute_adds`` is what the next started minute really adds to the total, after free minutes,
    passes, packs, caps and promos; it is charged ``seconds_to_next_minute`` seconds from now.
    """

    fare: Fare
    paused: bool
    per_minute: Decimal
    next_minute_adds: Decimal
    seconds_to_next_minute: int


# --- JSON form ---------------------------------------------------------------------------------------------
# JSON form of a tariff snapshot (stored on every ride) and of a fare (stored on every receipt).
#
# Money and rates are written as exact ``Decimal`` strings (``str(Decimal("1.50")) == "1.50"``), never as
# floats, so ``TariffSnapshot.from_json(s.to_json()) == s`` with the same digits. ``schema`` numbers the
# layout so a future change can still read the snapshots of old rides. It lives with the types it reads and
# writes (``to_json`` / ``from_json`` call it), so neither needs a module that imports the other.

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


def _snapshot_to_json(snapshot: TariffSnapshot) -> dict[str, object]:
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


def _snapshot_from_json(data: object) -> TariffSnapshot:
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


def _fare_to_json(fare: Fare) -> dict[str, object]:
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


def _fare_from_json(data: object) -> Fare:
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
