"""Rounding once: exact line amounts become minor-unit amounts that add up to exactly the rounded total.

The total is the exact sum rounded half-up (``core.money.quantize``). Each line is first rounded down to
a minor unit; the minor units still missing (never more than the number of lines with a remainder) go to
the lines with the largest remainders, earliest line first on a tie (the largest remainder method). So
every line moves by less than one minor unit, keeps its sign, and the lines sum to the total.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_FLOOR, Decimal

from billing.fares.types import FareLine
from core.money import minor_units


def allocate(lines: list[FareLine], total: Decimal, currency: str) -> list[FareLine]:
    unit = Decimal(1).scaleb(-minor_units(currency))
    floors = [line.amount.quantize(unit, rounding=ROUND_FLOOR) for line in lines]
    missing = int((total - sum(floors, Decimal(0))) / unit)
    remainders = [line.amount - floor for line, floor in zip(lines, floors, strict=True)]
    by_remainder = sorted((i for i, r in enumerate(remainders) if r > 0), key=lambda i: -remainders[i])
    if not 0 <= missing <= len(by_remainder):
        raise ArithmeticError(f"cannot allocate {missing} minor units over {len(by_remainder)} lines")
    for i in by_remainder[:missing]:
        floors[i] += unit
    return [dataclasses.replace(line, amount=amount) for line, amount in zip(lines, floors, strict=True)]
