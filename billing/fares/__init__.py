"""Freewheel's pure fare engine (no models, no database, no I/O); see docs/fares.md.

The billing app turns a ``Tariff`` row into a ``TariffSnapshot``, stores ``snapshot.to_json()`` on the
ride, and calls ``compute_fare`` / ``running_cost`` / ``reservation_fee`` / ``quote`` with it.
"""

from billing.fares.engine import compute_fare, reservation_fee, running_cost, started_minutes
from billing.fares.quoting import quote
from billing.fares.types import (
    NO_BENEFITS,
    Benefits,
    Fare,
    FareLine,
    PriceBracket,
    Quote,
    QuotePiece,
    RideUsage,
    RunningCost,
    TariffInvalid,
    TariffSnapshot,
    ZoneAdjustment,
)

__all__ = [
    "NO_BENEFITS",
    "Benefits",
    "Fare",
    "FareLine",
    "PriceBracket",
    "Quote",
    "QuotePiece",
    "RideUsage",
    "RunningCost",
    "TariffInvalid",
    "TariffSnapshot",
    "ZoneAdjustment",
    "compute_fare",
    "quote",
    "reservation_fee",
    "running_cost",
    "started_minutes",
]
