"""Money on the wire: a decimal string plus an ISO-4217 currency, e.g. ``{"amount": "1.50", "currency": "EUR"}``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rest_framework import serializers

# Largest amount read from a request: what the ledger's numeric(18, 4) columns hold. Anything larger would fail
# in quantize (decimal.InvalidOperation beyond 28 digits) or in PostgreSQL, not as a validation error.
MAX_AMOUNT = Decimal(10) ** 14

# Minor units per ISO-4217 currency; the default is 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "HUF": 2, "BHD": 3, "KWD": 3, "TND": 3}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit: the one place money is rounded."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(quantize(amount, currency)), "currency": currency.upper()}


class MoneyField(serializers.Field):
    """Reads and writes ``{"amount": "1.50", "currency": "EUR"}`` from/to a ``(Decimal, currency)`` pair."""

    default_error_messages = {
        "invalid": "Expected an object with a decimal string 'amount' and an ISO-4217 'currency'.",
        "out_of_range": "The amount is out of range.",
    }

    def to_representation(self, value: tuple[Decimal, str]) -> dict[str, str]:
        amount, currency = value
        return money(amount, currency)

    def to_internal_value(self, data: Any) -> tuple[Decimal, str]:
        if not isinstance(data, dict) or not isinstance(data.get("amount"), str):
            self.fail("invalid")
        currency = data.get("currency")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            self.fail("invalid")
        try:
            amount = Decimal(data["amount"])
        except ArithmeticError:
            self.fail("invalid")
        if not amount.is_finite():
            self.fail("invalid")
        if abs(amount) >= MAX_AMOUNT:
            self.fail("out_of_range")
        return amount, currency.upper()
