"""The Finance pages over a year of ledger: the streamed ledger CSV's memory and speed, the year's revenue page and
the nightly reconciliation.

``python -m bench finance``: a throw-away database (``bench.common.django_database``) with one city and a year of
ride charges, ``N_CHARGES`` of them (3 entries each: the rider's cash debited, revenue and VAT credited), spread
over 365 days and loaded with COPY. The ledger's balance trigger is switched off for the load only (every
generated transaction balances; the bench database is dropped afterwards) and the cached balances are set from the
entries, so the reconciliation finds nothing. Then, through Django's test client (the WSGI handler, as the admin
is served in production) as a superuser:

- ``GET /admin/finance/transactions/?format=csv`` for the whole year, read chunk by chunk as a client would: lines,
  megabytes, seconds, how much this process's resident memory grew while streaming (sampled on every chunk), and
  in a second download the peak of Python's allocations (tracemalloc), next to the size of the whole file (what
  buffering it would at least cost);
- ``GET /admin/finance/?first=..&last=..``, daily revenue of a month and of the year, 5 times each;
- ``billing.services.reconcile.reconcile_nightly`` once (the nightly beat task's work).
"""

from __future__ import annotations

import random
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psutil

from bench import common

N_CHARGES = 300_000  # ~820 charged rides a day for a year: 900,000 ledger entries
N_RIDERS = 5_000
YEAR_START = date(2025, 1, 1)


def _setup() -> tuple[Any, list[int], int, int]:
    from billing.models import AccountKind, LedgerAccount
    from fleet.models import City

    city = City.objects.create(slug="bench", name="Bench City", timezone="Europe/Berlin", currency="EUR")
    revenue = LedgerAccount.objects.create(code="revenue:bench:EUR", kind=AccountKind.REVENUE, currency="EUR",
                                           city=city)
    vat = LedgerAccount.objects.create(code="vat_payable:bench:EUR", kind=AccountKind.VAT_PAYABLE, currency="EUR",
                                       city=city)
    riders = LedgerAccount.objects.bulk_create(
        LedgerAccount(code=f"rider_receivable:{i}:EUR", kind=AccountKind.RIDER_RECEIVABLE, currency="EUR")
        for i in range(N_RIDERS))
    return city, [r.pk for r in riders], revenue.pk, vat.pk


def _load(riders: list[int], revenue: int, vat: int) -> float:
    from django.db import connection, transaction

    rng = random.Random(22)
    # Local days of the city (Europe/Berlin, the admin's zone here too): the year's 365 days hold every charge.
    start = datetime.combine(YEAR_START, datetime.min.time(), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    times = sorted(start + timedelta(seconds=rng.randrange(365 * 86_400)) for _ in range(N_CHARGES))
    txns = [(uuid.uuid4(), at, Decimal(rng.randrange(150, 1500)) / 100) for at in times]

    def transactions() -> Any:
        for i, (tid, at, _total) in enumerate(txns):
            discounts = Decimal(i % 100) / 100
            yield (tid, "ride_charge", f"ride_charge:{i}", "Ride", uuid.uuid4(), f'{{"fare": {{"discounts": "{discounts}"}}}}', at)

    def entries() -> Any:  # in booking order, so ids follow time as postings make them
        for tid, at, total in txns:
            net = (total / Decimal("1.19")).quantize(Decimal("0.01"))
            yield from ((tid, rng.choice(riders), "EUR", total, at), (tid, revenue, "EUR", -net, at),
                        (tid, vat, "EUR", net - total, at))

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE billing_ledgerentry DISABLE TRIGGER ledger_transaction_balanced")
        cursor.execute("ALTER TABLE billing_ledgertransaction DISABLE TRIGGER ledger_transaction_has_entries")
        with cursor.cursor.copy("COPY billing_ledgertransaction (id, kind, idempotency_key, description, ride_id, "
                                "metadata, created_at) FROM STDIN") as copy:
            for row in transactions():
                copy.write_row(row)
        with cursor.cursor.copy("COPY billing_ledgerentry (transaction_id, account_id, currency, amount, created_at) "
                                "FROM STDIN") as copy:
            for row in entries():
                copy.write_row(row)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys are checked now
        cursor.execute("ALTER TABLE billing_ledgerentry ENABLE TRIGGER ledger_transaction_balanced")
        cursor.execute("ALTER TABLE billing_ledgertransaction ENABLE TRIGGER ledger_transaction_has_entries")
        cursor.execute("UPDATE billing_ledgeraccount a SET balance = s.total FROM (SELECT account_id, sum(amount) "
                       "AS total FROM billing_ledgerentry GROUP BY account_id) s WHERE a.id = s.account_id")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_ledgerentry")
        cursor.execute("ANALYZE billing_ledgertransaction")
    return time.perf_counter() - started


def _stream_csv(client: Any, *, trace: bool = False) -> dict[str, float]:
    """One download of the year's ledger CSV. ``trace``: measure the peak of Python's own allocations while
    streaming (tracemalloc; slower, so the timing comes from a pass without it). RSS alone would understate a
    buffered file: the load's freed memory is reused before the process grows."""
    process = psutil.Process()
    if trace:
        tracemalloc.start()
    last = YEAR_START + timedelta(days=364)
    before = process.memory_info().rss
    peak, size, lines = before, 0, 0
    with common.Timer() as timer:
        response = client.get("/admin/finance/transactions/", {"first": YEAR_START.isoformat(),
                                                                "last": last.isoformat(), "format": "csv"})
        assert response.status_code == 200 and response.streaming, response.status_code
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
            peak = max(peak, process.memory_info().rss)
    traced = tracemalloc.get_traced_memory()[1] / 1e6 if trace else 0.0
    tracemalloc.stop()
    return {"lines": lines - 1, "mb": size / 1e6, "seconds": timer.wall_s, "rss_growth_mb": (peak - before) / 1e6,
            "traced_peak_mb": traced}


def _time_revenue_page(client: Any, days: int) -> list[float]:
    last = YEAR_START + timedelta(days=days - 1)
    samples = []
    for _ in range(5):
        with common.Timer() as timer:
            response = client.get("/admin/finance/", {"first": YEAR_START.isoformat(), "last": last.isoformat()})
        assert response.status_code == 200, response.status_code
        samples.append(timer.wall_s * 1000)
    return samples


def main() -> dict[str, Any]:
    from django.test import Client

    with common.django_database("finance"):
        _city, riders, revenue, vat = _setup()
        load_s = _load(riders, revenue, vat)
        print(f"finance: {N_CHARGES} ride charges ({3 * N_CHARGES} entries) over 365 days loaded in {load_s:.1f} s",
              flush=True)
        from accounts.models import User

        client = Client()
        client.force_login(User.objects.create_superuser(email="bench@example.com", password="x" * 16))
        csv = _stream_csv(client)
        traced = _stream_csv(client, trace=True)["traced_peak_mb"]
        print(f"finance: ledger CSV of a year: {csv['lines']} lines, {csv['mb']:.0f} MB in {csv['seconds']:.1f} s "
              f"({csv['lines'] / csv['seconds']:.0f} lines/s); while streaming, resident memory grew "
              f"{csv['rss_growth_mb']:.1f} MB and Python's allocations peaked at {traced:.1f} MB", flush=True)
        month = common.percentiles(_time_revenue_page(client, 31), (50, 95))
        page = common.percentiles(_time_revenue_page(client, 365), (50, 95))
        print(f"finance: daily revenue page, a month (31 days): p50 {month['p50']} ms, p95 {month['p95']} ms; "
              f"a year (365 days): p50 {page['p50']} ms, p95 {page['p95']} ms", flush=True)
        from billing.services import reconcile

        with common.Timer() as timer:
            run = reconcile.reconcile_nightly()
        print(f"finance: nightly reconciliation of {3 * N_CHARGES} entries: {timer.wall_s:.1f} s, "
              f"{run.mismatch_count} mismatches", flush=True)
    return {"entries": 3 * N_CHARGES, "csv_lines": csv["lines"], "csv_mb": round(csv["mb"], 1),
            "csv_s": round(csv["seconds"], 1), "csv_rss_growth_mb": round(csv["rss_growth_mb"], 1),
            "csv_traced_peak_mb": round(traced, 1),
            "revenue_month_p50_ms": month["p50"], "revenue_year_p50_ms": page["p50"], "revenue_year_p95_ms": page["p95"],
            "reconcile_s": round(timer.wall_s, 1), "reconcile_mismatches": run.mismatch_count}
