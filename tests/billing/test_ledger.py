"""Ledger invariants: balanced, immutable, idempotent; enforced by PostgreSQL, not only by Python."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from billing import errors
from billing.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from billing.services import ledger
from billing.services.ledger import credit, debit
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _accounts(rider, currency="EUR"):
    cash = ledger.rider_account(user=rider, kind=AccountKind.RIDER_CASH, currency=currency)
    clearing = ledger.system_account(kind=AccountKind.PSP_CLEARING, currency=currency)
    return cash, clearing


def _top_up(rider, amount, key=None):
    cash, clearing = _accounts(rider)
    return ledger.ledger_post(
        kind="top_up", lines=[debit(clearing, amount), credit(cash, amount)],
        idempotency_key=key or str(uuid.uuid4()), user=rider,
    )


def test_a_balanced_posting_writes_entries_and_cached_balances(rider):
    txn = _top_up(rider, Decimal("10.00"))
    cash, clearing = _accounts(rider)
    assert sorted(e.amount for e in txn.entries.all()) == [Decimal("-10.00"), Decimal("10.00")]
    assert (cash.balance, clearing.balance) == (Decimal("-10.00"), Decimal("10.00"))


def test_a_retry_with_the_same_key_posts_once(rider):
    first = _top_up(rider, Decimal("10.00"), key="k1")
    again = _top_up(rider, Decimal("10.00"), key="k1")
    assert first.pk == again.pk
    assert LedgerEntry.objects.count() == 2
    assert _accounts(rider)[0].balance == Decimal("-10.00")


def test_the_same_key_for_another_kind_is_a_conflict(rider):
    _top_up(rider, Decimal("1.00"), key="k2")
    cash, clearing = _accounts(rider)
    with pytest.raises(errors.IdempotencyKeyConflict):
        ledger.ledger_post(kind="bonus", lines=[debit(clearing, Decimal(1)), credit(cash, Decimal(1))],
                           idempotency_key="k2")


@pytest.mark.parametrize("amounts", [[Decimal("1.00"), Decimal("-0.99")], [Decimal("1.00")], [Decimal("1.001"), Decimal("-1.001")]])
def test_python_refuses_unbalanced_or_overprecise_lines_and_writes_nothing(rider, amounts):
    cash, clearing = _accounts(rider)
    accounts = [clearing, cash]
    with pytest.raises((errors.LedgerUnbalanced, errors.AmountInvalid)):
        ledger.ledger_post(kind="x", lines=[ledger.Line(accounts[i], a) for i, a in enumerate(amounts)],
                           idempotency_key="bad")
    assert not LedgerTransaction.objects.exists()


def test_a_wallet_cannot_be_overdrawn_and_the_refused_posting_leaves_nothing(rider):
    _top_up(rider, Decimal("5.00"))
    cash, clearing = _accounts(rider)
    revenue = ledger.system_account(kind=AccountKind.REVENUE, currency="EUR")
    with pytest.raises(errors.InsufficientFunds):
        ledger.ledger_post(kind="ride_charge", lines=[debit(cash, Decimal("5.01")), credit(revenue, Decimal("5.01"))],
                           idempotency_key="overdraw")
    cash.refresh_from_db()
    assert cash.balance == Decimal("-5.00")
    assert not LedgerTransaction.objects.filter(idempotency_key="overdraw").exists()


def _raw_txn(cursor, key):
    txn_id = uuid.uuid4()
    cursor.execute(
        "INSERT INTO billing_ledgertransaction (id, kind, idempotency_key, description, metadata, created_at)"
        " VALUES (%s, 'raw', %s, '', '{}', now())", [txn_id, key])
    return txn_id


def _raw_entry(cursor, txn_id, account, amount, currency=None):
    cursor.execute(
        "INSERT INTO billing_ledgerentry (transaction_id, account_id, currency, amount, created_at)"
        " VALUES (%s, %s, %s, %s, now())", [txn_id, account.pk, currency or account.currency, amount])


def test_the_database_refuses_an_unbalanced_transaction_written_with_raw_sql(rider):
    cash, clearing = _accounts(rider)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic(), connection.cursor() as cur:
        txn_id = _raw_txn(cur, "raw-1")
        _raw_entry(cur, txn_id, clearing, Decimal("3.00"))
        _raw_entry(cur, txn_id, cash, Decimal("-2.00"))
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do
    assert not LedgerTransaction.objects.filter(idempotency_key="raw-1").exists()


def test_the_database_refuses_a_transaction_without_entries(rider):
    with pytest.raises(IntegrityError, match="fewer than two"), transaction.atomic(), connection.cursor() as cur:
        _raw_txn(cur, "raw-empty")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_database_refuses_an_entry_in_another_currency_than_its_account(rider):
    cash, clearing = _accounts(rider)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        txn_id = _raw_txn(cur, "raw-ccy")
        _raw_entry(cur, txn_id, clearing, Decimal("3.00"), currency="USD")
        _raw_entry(cur, txn_id, cash, Decimal("-3.00"), currency="USD")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.parametrize("sql", ["UPDATE billing_ledgerentry SET amount = amount * 2",
                                 "DELETE FROM billing_ledgerentry",
                                 "UPDATE billing_ledgertransaction SET kind = 'other'"])
def test_entries_and_transactions_are_immutable(rider, sql):
    _top_up(rider, Decimal("4.00"))
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("-4.00"), Decimal("4.00")]


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_raw_transaction_fails_at_a_real_commit():
    rider = UserFactory.create()
    cash, clearing = _accounts(rider)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic(), connection.cursor() as cur:
        txn_id = _raw_txn(cur, "raw-commit")
        _raw_entry(cur, txn_id, clearing, Decimal("1.00"))
        _raw_entry(cur, txn_id, cash, Decimal("-0.50"))
    assert not LedgerTransaction.objects.filter(idempotency_key="raw-commit").exists()


def _in_threads(n, target):
    barrier, results, failures = threading.Barrier(n), [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # collected and asserted on by the test
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, failures


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_post_once():
    rider = UserFactory.create()
    _accounts(rider)
    results, failures = _in_threads(8, lambda i: _top_up(rider, Decimal("2.00"), key="same").pk)
    assert failures == [] and len(set(results)) == 1
    assert LedgerTransaction.objects.count() == 1
    assert _accounts(rider)[0].balance == Decimal("-2.00")


@pytest.mark.django_db(transaction=True)
def test_concurrent_spends_never_overdraw_and_never_deadlock():
    rider = UserFactory.create()
    _top_up(rider, Decimal("5.00"))
    cash, _ = _accounts(rider)
    revenue = ledger.system_account(kind=AccountKind.REVENUE, currency="EUR")

    def spend(i):
        return ledger.ledger_post(kind="ride_charge", lines=[debit(cash, Decimal(1)), credit(revenue, Decimal(1))],
                                  idempotency_key=f"spend-{i}")

    results, failures = _in_threads(8, spend)
    assert len(results) == 5
    assert all(isinstance(f, errors.InsufficientFunds) for f in failures) and len(failures) == 3
    call_command("billing_reconcile")


def test_reconcile_passes_then_fails_after_a_tampered_cached_balance(rider, capsys):
    _top_up(rider, Decimal("7.00"))
    call_command("billing_reconcile")
    LedgerAccount.objects.filter(kind=AccountKind.RIDER_CASH).update(balance=Decimal("-70.00"))
    with pytest.raises(CommandError, match="1 ledger mismatch"):
        call_command("billing_reconcile")
    assert "cached -70.0000 != entries -7.0000" in capsys.readouterr().err
