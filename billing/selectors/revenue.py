"""Revenue of a city per hour, read from the ledger (the dashboard's rollup in ``console`` calls this).

Every figure is a sum of ledger entries, so it matches the books exactly:

- ride charges and reservation fees credit ``revenue:<city>`` (net of VAT) and ``vat_payable:<city>``; the fare's
  ``discounts`` come from the ``ride_charge`` transaction's fare (its metadata), the same transaction;
- a refund debits the currency-wide ``refunds`` (net) and ``vat_payable`` (its VAT) accounts; it belongs to the
  city whose revenue account its ride's charge credited. It counts when it was booked (the ledger's time), so a
  refund today of yesterday's ride lowers today's figures and never rewrites a closed day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import DecimalField, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Trunc

from billing.models import AccountKind, LedgerEntry

ZERO = Decimal(0)


class RevenueHour(NamedTuple):
    """Money of one city in one hour, every amount positive (what riders paid is revenue, not a credit)."""

    charged_net: Decimal  # credited to revenue:<city> (rides and reservation fees), net of VAT
    charged_vat: Decimal  # credited to vat_payable:<city> with them
    discounts: Decimal  # the fare discounts of those ride charges (promos, pass minutes, caps, zone bonuses)
    refunded_net: Decimal  # refunds of the city's rides, net of VAT (debited to refunds)
    refunded_vat: Decimal  # the VAT given back with them

_AMOUNT = DecimalField(max_digits=18, decimal_places=4)


def revenue_by_hour(*, city_id: UUID, timezone: str, start: datetime, end: datetime) -> dict[datetime, RevenueHour]:
    """``{start of the city's local hour: money}`` booked in ``[start, end)``; hours without money are left out."""
    tz = ZoneInfo(timezone)
    sums: dict[datetime, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    charges = (LedgerEntry.objects
               .filter(account__city_id=city_id, account__kind__in=(AccountKind.REVENUE, AccountKind.VAT_PAYABLE),
                       created_at__gte=start, created_at__lt=end)
               .annotate(hour=Trunc("created_at", "hour", tzinfo=tz)).values("hour", "account__kind")
               .annotate(amount=Sum("amount"), discounts=Sum(Cast(
                   KeyTextTransform("discounts", KeyTransform("fare", "transaction__metadata")), _AMOUNT))))
    for row in charges:
        sums[row["hour"]][row["account__kind"]] -= row["amount"]  # credits are negative
        if row["account__kind"] == AccountKind.REVENUE:  # one revenue entry per charge: its fare's discounts
            sums[row["hour"]]["discounts"] += row["discounts"] or ZERO
    refunds = list(LedgerEntry.objects
                   .filter(transaction__kind="refund", account__city__isnull=True,
                           account__kind__in=(AccountKind.REFUNDS, AccountKind.VAT_PAYABLE),
                           created_at__gte=start, created_at__lt=end)
                   .annotate(hour=Trunc("created_at", "hour", tzinfo=tz))
                   .values("hour", "account__kind", "transaction__ride_id")
                   .annotate(amount=Sum("amount")))
    # Which of these refunds' rides were charged to this city, looked up by their ride ids (the range's refunds are
    # few) rather than as a correlated EXISTS: the planner cannot know that one city's revenue account holds a large
    # share of all entries, and walked all of them (2.4 s for the current hour at 5M entries, python -m bench admin).
    ride_ids = {r["transaction__ride_id"] for r in refunds if r["transaction__ride_id"] is not None}
    city_rides = set(LedgerEntry.objects.filter(
        account__city_id=city_id, account__kind=AccountKind.REVENUE, transaction__kind="ride_charge",
        transaction__ride_id__in=ride_ids).values_list("transaction__ride_id", flat=True)) if ride_ids else set()
    for refund in refunds:
        if refund["transaction__ride_id"] in city_rides:
            sums[refund["hour"]][f"refund:{refund['account__kind']}"] += refund["amount"]  # debits are positive
    return {hour: RevenueHour(s[AccountKind.REVENUE], s[AccountKind.VAT_PAYABLE], s["discounts"],
                              s[f"refund:{AccountKind.REFUNDS}"], s[f"refund:{AccountKind.VAT_PAYABLE}"])
            for hour, s in sums.items()}
