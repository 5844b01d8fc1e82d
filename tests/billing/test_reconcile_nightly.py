"""billing_reconcile every night on beat: once per night, a mismatch alerted once to finance staff by email and
shown in the admin; and the ledger's admin pages in debit and credit columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail

from accounts.services import roles
from billing import tasks
from billing.models import AccountKind, LedgerAccount, ReconcileRun
from billing.services import ledger, reconcile, wallet
from config.celery import app
from tests.accounts.factories import UserFactory
from tests.billing.conftest import fund
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db
NIGHT = datetime(2025, 3, 7, 2, 30, tzinfo=UTC)  # not today: the task's own run is another night


def _staff(role: str, **fields: Any) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


def _tamper(rider: Any) -> LedgerAccount:
    """A cached balance that disagrees with its entries (the entries themselves cannot be changed)."""
    cash = ledger.rider_account(user=rider, kind=AccountKind.RIDER_CASH, currency="EUR")
    LedgerAccount.objects.filter(pk=cash.pk).update(balance=cash.balance - Decimal("1.00"))
    return cash


def test_the_beat_schedule_runs_the_reconciliation_every_night():
    entry = settings.CELERY_BEAT_SCHEDULE["billing-reconcile-nightly"]
    assert entry["task"] == "billing.tasks.reconcile_nightly" and entry["task"] in app.tasks
    assert entry["schedule"] == crontab(hour=2, minute=30)  # every day of every month


def test_a_balanced_ledger_is_recorded_and_alerts_nobody(rider):
    fund(rider)
    _staff("finance")
    run = reconcile.reconcile_nightly(now=NIGHT)
    assert (run.night, run.ok, run.mismatch_count, run.alerted_at) == (NIGHT.date(), True, 0, None)
    assert mail.outbox == []


def test_a_mismatch_is_alerted_once_per_night_to_finance_staff(rider, client):
    fund(rider)
    finance_staff = _staff("finance")
    admin_staff = _staff("admin")
    support = _staff("support_agent")
    _staff("finance", is_active=False)
    cash = _tamper(rider)
    with mock.patch("billing.services.reconcile.ledger_reconcile", wraps=reconcile.ledger_reconcile) as check:
        runs = [reconcile.reconcile_nightly(now=NIGHT + timedelta(minutes=m)) for m in (0, 1, 90)]
        assert tasks.reconcile_nightly() >= 0  # the task itself (today's night)
    assert check.call_count == 2  # the night once, and the task's own night
    assert ReconcileRun.objects.filter(night=NIGHT.date()).count() == 1
    run = runs[-1]
    assert run.mismatch_count == 1 and run.mismatches[0]["account"] == cash.code
    assert run.mismatches[0]["difference"] == "1.0000"
    night_mails = [m for m in mail.outbox if str(NIGHT.date()) in m.subject]
    assert len(night_mails) == 1  # three runs of the night: one email
    assert sorted(night_mails[0].to) == sorted([finance_staff.email, admin_staff.email])
    assert support.email not in night_mails[0].to
    assert cash.code in night_mails[0].body
    assert run.alerted_at is not None and sorted(run.alerted_to) == sorted(night_mails[0].to)
    # the next night still disagrees: alerted again
    reconcile.reconcile_nightly(now=NIGHT + timedelta(days=1))
    assert len([m for m in mail.outbox if str((NIGHT + timedelta(days=1)).date()) in m.subject]) == 1
    # visible in the admin: the finance pages' banner and the runs' list
    client.force_login(finance_staff)
    page = client.get("/admin/finance/").content.decode()
    assert "Ledger mismatch" in page and "1 account" in page
    runs_page = client.get("/admin/billing/reconcilerun/").content.decode()
    assert "1 MISMATCH(ES)" in runs_page
    detail = client.get(f"/admin/billing/reconcilerun/{run.pk}/change/").content.decode()
    assert cash.code in detail


def test_an_alert_whose_email_failed_is_sent_by_the_next_run(rider):
    fund(rider)
    _staff("finance")
    _tamper(rider)
    with mock.patch("billing.services.reconcile.send_mail", side_effect=OSError("smtp down")), \
            pytest.raises(OSError):
        reconcile.reconcile_nightly(now=NIGHT)
    assert ReconcileRun.objects.get(night=NIGHT.date()).alerted_at is None
    run = reconcile.reconcile_nightly(now=NIGHT + timedelta(minutes=5))
    assert run.alerted_at is not None and len(mail.outbox) == 1


def test_a_run_that_died_half_way_is_checked_again(rider):
    ReconcileRun.objects.create(night=NIGHT.date(), started_at=NIGHT)  # no finished_at
    run = reconcile.reconcile_nightly(now=NIGHT + timedelta(minutes=10))
    assert run.finished_at is not None and run.ok


def test_ledger_admin_shows_debit_and_credit_columns(client, rider):
    city = CityFactory.create(slug="fin-admin")
    fund(rider, "10.00")
    wallet.bonus_grant(user=rider, amount=Decimal("3.19"), currency="EUR", source=AccountKind.GOODWILL,
                       idempotency_key="fin-admin-gw", description="sorry")
    client.force_login(_staff("finance"))
    accounts = client.get("/admin/billing/ledgeraccount/").content.decode()
    assert "Debit balance" in accounts and "Credit balance" in accounts
    accounts = accounts.lower()
    assert "debit balance" in accounts and "credit balance" in accounts and "signed balance" in accounts
    bonus = LedgerAccount.objects.get(kind=AccountKind.RIDER_BONUS, user=rider)
    row = accounts.split(f">{bonus.code.lower()}<")[1].split("</tr>")[0]
    # the credit column reads 3.19; the signed column keeps -3.19 for accountants
    cells = [c.split(">")[-1] for c in row.split("</td>")]
    assert "3.19" in cells and "-3.19" in cells and cells.index("3.19") < cells.index("-3.19")
    txns = client.get("/admin/billing/ledgertransaction/").content.decode().lower()
    assert "debit (money to)" in txns and "credit (money from)" in txns and "goodwill:eur 3.19" in txns
    entries = client.get("/admin/billing/ledgerentry/").content.decode()
    assert entries.count("<tr") >= 6
    assert city.slug


def test_support_cannot_read_the_ledger_pages(client):
    client.force_login(_staff("support_agent"))
    for url in ("/admin/billing/ledgeraccount/", "/admin/billing/ledgertransaction/", "/admin/billing/ledgerentry/",
                "/admin/billing/reconcilerun/"):
        assert client.get(url).status_code == 403
