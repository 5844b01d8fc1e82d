"""Finance reports, read from the ledger (docs/billing.md "Finance"): revenue per city and local day, the payment
provider's captures and refunds per day, the debtors, and the ledger's transactions with their entries.

Revenue is summed from ``revenue_by_hour``, the selector the admin dashboard's rollups read, with the same
definitions of gross, discounts, VAT, refunds and net (``MoneySums``): the two pages cannot disagree."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import CharField, Count, OuterRef, Q, QuerySet, Subquery, Sum, UUIDField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Trunc

from billing.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, Payment, Refund
from billing.selectors.revenue import RevenueHour, revenue_by_hour
from fleet.models import City

ZERO = Decimal(0)
MAX_DAYS = 400  # a year and a bit per report: enough for a business year, bounded for the page


@dataclass
class MoneySums:
    """Money of some hours, every amount positive; the properties are the dashboard's (docs/console.md)."""

    charged_net: Decimal = ZERO
    charged_vat: Decimal = ZERO
    discounts: Decimal = ZERO
    refunded_net: Decimal = ZERO
    refunded_vat: Decimal = ZERO

    def add(self, hour: RevenueHour) -> None:
        for name in RevenueHour._fields:
            setattr(self, name, getattr(self, name) + getattr(hour, name))

    @property
    def gross(self) -> Decimal:
        """List price of what was charged: what riders paid plus the discounts they got."""
        return self.charged_net + self.charged_vat + self.discounts

    @property
    def vat(self) -> Decimal:
        return self.charged_vat - self.refunded_vat

    @property
    def refunds(self) -> Decimal:
        return self.refunded_net + self.refunded_vat

    @property
    def net(self) -> Decimal:
        """Revenue net of VAT and refunds: the city's revenue account less the refunds of its rides."""
        return self.charged_net - self.refunded_net


@dataclass
class CityRevenue:
    city: City
    days: list[tuple[date, MoneySums]]
    total: MoneySums = field(default_factory=MoneySums)


def local_bounds(*, timezone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """``[first 00:00, the day after last 00:00)`` in ``timezone``, as UTC instants (right across DST too)."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def revenue_by_day(*, city: City, first: date, last: date) -> CityRevenue:
    """Every local day of ``[first, last]`` in the city's time zone, days without money included (zeros)."""
    start, end = local_bounds(timezone=city.timezone, first=first, last=last)
    tz = ZoneInfo(city.timezone)
    days = {first + timedelta(days=i): MoneySums() for i in range((last - first).days + 1)}
    report = CityRevenue(city=city, days=list(days.items()))
    for hour, money in revenue_by_hour(city_id=city.id, timezone=city.timezone, start=start, end=end).items():
        days[hour.astimezone(tz).date()].add(money)
        report.total.add(money)
    return report


@dataclass(frozen=True)
class PspDay:
    """What moved through the payment provider on one day in one currency (the ``psp_clearing`` account):
    ``captured`` card money received, ``refunded`` to cards, ``charged_back`` by disputes; ``net`` is what the
    provider owes us for the day before its fees, to match against its payout."""

    day: date
    provider: str
    currency: str
    captures: int
    captured: Decimal
    refunds: int
    refunded: Decimal
    chargebacks: int
    charged_back: Decimal
    net: Decimal


def psp_by_day(*, timezone: str, first: date, last: date) -> list[PspDay]:
    """Per local day of ``timezone``, provider and currency, oldest first; days without movements are left out.
    The provider is the payment's (a capture, a chargeback) or the refunded payment's (a refund)."""
    start, end = local_bounds(timezone=timezone, first=first, last=last)
    refund_provider = Refund.objects.filter(pk=OuterRef("refund_id")).values("payment__provider")[:1]
    rows = (LedgerEntry.objects
            .filter(account__kind=AccountKind.PSP_CLEARING, created_at__gte=start, created_at__lt=end)
            .annotate(refund_id=Cast(KeyTextTransform("refund_id", "transaction__metadata"), UUIDField()))
            .annotate(day=Trunc("created_at", "day", tzinfo=ZoneInfo(timezone)),
                      provider=Coalesce("transaction__payment__provider", Subquery(refund_provider),
                                        Value(""), output_field=CharField()))
            .values("day", "provider", "currency", "transaction__kind")
            .annotate(n=Count("id"), total=Sum("amount"))
            .order_by("day", "provider", "currency"))
    sums: dict[tuple[date, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["day"].astimezone(ZoneInfo(timezone)).date(), row["provider"], row["currency"])
        s = sums.setdefault(key, {"captures": 0, "captured": ZERO, "refunds": 0, "refunded": ZERO,
                                  "chargebacks": 0, "charged_back": ZERO, "net": ZERO})
        kind, n, total = row["transaction__kind"], row["n"], row["total"]
        if kind == "card_payment":
            s["captures"] += n
            s["captured"] += total
        elif kind == "refund":
            s["refunds"] += n
            s["refunded"] -= total  # a credit of the clearing account
        elif kind == "chargeback":
            s["chargebacks"] += n
            s["charged_back"] -= total
        s["net"] += total  # anything else (a manual correction) still moves the day's net
    return [PspDay(day, provider, currency, **s) for (day, provider, currency), s in sorted(sums.items())]


@dataclass(frozen=True)
class Debtor:
    account_id: int
    user_id: Any
    email: str
    phone: str
    name: str
    currency: str
    amount: Decimal
    since: datetime | None  # in debt without a break since then
    last_attempt_at: datetime | None  # the rider's last payment (top-up, hold, charge) in this currency
    last_attempt_status: str
    last_attempt_failure: str


def debtor_accounts(*, search: str = "") -> QuerySet[LedgerAccount]:
    """Riders' receivable accounts with a positive balance, the largest debt first."""
    last = Payment.objects.filter(user=OuterRef("user"), currency=OuterRef("currency")).order_by("-created_at")
    qs = (LedgerAccount.objects.filter(kind=AccountKind.RIDER_RECEIVABLE, balance__gt=0).select_related("user")
          .annotate(last_attempt_at=Subquery(last.values("created_at")[:1]),
                    last_attempt_status=Subquery(last.values("status")[:1]),
                    last_attempt_failure=Subquery(last.values("failure_code")[:1]))
          .order_by("-balance", "pk"))
    if search:
        qs = qs.filter(Q(user__email__icontains=search) | Q(user__phone__contains=search)
                       | Q(user__name__icontains=search))
    return qs


def debtors(accounts: Sequence[LedgerAccount]) -> list[Debtor]:
    """The page's debtors with "since when": one query over their accounts' entries."""
    since: dict[int, datetime | None] = {}
    running: dict[int, Decimal] = {}
    entries = (LedgerEntry.objects.filter(account__in=[a.pk for a in accounts]).order_by("account", "created_at", "id")
               .values_list("account", "amount", "created_at"))
    for account_id, amount, created_at in entries:
        running[account_id] = running.get(account_id, ZERO) + amount
        if running[account_id] <= 0:
            since[account_id] = None  # paid off: a later debt starts afresh
        elif since.get(account_id) is None:
            since[account_id] = created_at
    return [Debtor(account_id=a.pk, user_id=a.user_id, email=a.user.email if a.user else "",
                   phone=a.user.phone if a.user else "", name=a.user.name if a.user else "", currency=a.currency,
                   amount=a.balance, since=since.get(a.pk), last_attempt_at=getattr(a, "last_attempt_at", None),
                   last_attempt_status=getattr(a, "last_attempt_status", None) or "",
                   last_attempt_failure=getattr(a, "last_attempt_failure", None) or "")
            for a in accounts]


def transactions_between(*, start: datetime, end: datetime, kind: str = "") -> QuerySet[LedgerTransaction]:
    """Transactions booked in ``[start, end)``, newest first, with their entries and accounts prefetched."""
    qs = (LedgerTransaction.objects.filter(created_at__gte=start, created_at__lt=end)
          .select_related("user", "actor").prefetch_related("entries__account").order_by("-created_at", "-pk"))
    return qs.filter(kind=kind) if kind else qs


def transaction_kinds() -> list[str]:
    return list(LedgerTransaction.objects.order_by("kind").values_list("kind", flat=True).distinct())


ENTRY_FIELDS = ("id", "created_at", "transaction_id", "transaction__kind", "transaction__description",
                "transaction__user__email", "transaction__actor__email", "transaction__ride_id", "account__code",
                "account__kind", "currency", "amount")


def entries_between(*, start: datetime, end: datetime, kind: str = "", batch: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every entry booked in ``[start, end)`` as a tuple of ``ENTRY_FIELDS``, in booking order, fetched in
    batches by id (keyset): memory stays at one batch whatever the range, and no cursor is held open between
    batches (a slow download keeps no transaction open)."""
    after = 0
    while True:
        page = entries_page(start=start, end=end, kind=kind, after=after, batch=batch)
        yield from page
        if len(page) < batch:
            return
        after = page[-1][0]


def entries_page(*, start: datetime, end: datetime, kind: str, after: int, batch: int) -> list[tuple[Any, ...]]:
    qs = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end, id__gt=after)
    if kind:
        qs = qs.filter(transaction__kind=kind)
    return list(qs.order_by("id").values_list(*ENTRY_FIELDS)[:batch])
