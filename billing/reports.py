"""Finance reports as CSV (docs/billing.md "Finance"): rows come from ``billing.selectors.finance``; this module
turns them into CSV lines, streamed one at a time so that a year of ledger entries never sits in memory.

Cells are written by the standard ``csv`` module (quotes, commas, new lines escaped as RFC 4180 wants). A text
cell that a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: OWASP's list) gets a leading apostrophe. Numbers are written as numbers, never guarded: ``-3.19`` is an
amount, not a formula, and it must stay one for the accountant's sums."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.selectors.finance import CityRevenue, PspDay
from core.money import quantize

_FORMULA_START = frozenset("=+-@\t\r")


def cell(value: Any) -> str | Decimal | int:
    """One CSV cell: numbers as they are, dates in ISO 8601, text guarded against formula injection. Text is
    checked first: it is most cells, and this runs for every cell of a year of entries."""
    if type(value) is str:
        return "'" + value if value[:1] in _FORMULA_START else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in _FORMULA_START else text


class _Line:
    """A file-like object that hands back what ``csv.writer`` writes (Django's streaming CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header and each row as one CSV line (CRLF-terminated), produced lazily."""
    writer = csv.writer(_Line())
    yield writer.writerow([cell(h) for h in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


REVENUE_HEADER = ["date", "city", "currency", "gross", "discounts", "vat", "refunds", "net"]


def revenue_rows(reports: Iterable[CityRevenue]) -> Iterator[list[Any]]:
    for report in reports:
        c = report.city.currency
        for day, m in report.days:
            yield [day, report.city.name, c, *(quantize(v, c) for v in (m.gross, m.discounts, m.vat, m.refunds, m.net))]


PSP_HEADER = ["date", "provider", "currency", "captures", "captured", "refunds", "refunded", "chargebacks",
              "charged_back", "net"]


def psp_rows(days: Iterable[PspDay]) -> Iterator[list[Any]]:
    for d in days:
        c = d.currency
        yield [d.day, d.provider, c, d.captures, quantize(d.captured, c), d.refunds, quantize(d.refunded, c),
               d.chargebacks, quantize(d.charged_back, c), quantize(d.net, c)]


ENTRIES_HEADER = ["booked_at", "transaction", "kind", "description", "rider", "staff", "ride", "account",
                  "account_kind", "currency", "debit", "credit", "signed_amount"]


def entry_rows(entries: Iterable[tuple[Any, ...]], *, timezone: str) -> Iterator[list[Any]]:
    """Rows of ``selectors.finance.ENTRY_FIELDS`` tuples; times in ``timezone``; debit and credit as positive
    amounts in their own columns, and the signed amount (debit > 0, credit < 0) for accountants."""
    tz = ZoneInfo(timezone)
    for (_id, created_at, txn, kind, description, rider, staff, ride, account, account_kind, currency,
         amount) in entries:
        amount = quantize(amount, currency)  # lossless: the ledger refuses more decimals than the currency has
        yield [created_at.astimezone(tz), txn, kind, description, rider, staff, ride, account, account_kind,
               currency, amount if amount > 0 else "", -amount if amount < 0 else "", amount]
