"""core.db: services that join the caller's transaction, and the INSERT guard."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from core.db import conflict_guard, joins_transaction
from core.models import IdempotencyKey


def _key(key: str) -> IdempotencyKey:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    return IdempotencyKey.objects.create(scope="test", key=key, method="POST", path="/x", request_hash="h",
                                         locked_at=now, expires_at=now + timedelta(hours=1))


@joins_transaction
def _in_transaction() -> tuple[bool, int]:
    return connection.in_atomic_block, len(connection.savepoint_ids)


@pytest.mark.django_db(transaction=True)
def test_joins_transaction_opens_one_when_there_is_none_and_adds_no_savepoint_inside_one():
    assert not connection.in_atomic_block
    assert _in_transaction() == (True, 0)
    with transaction.atomic():
        assert _in_transaction() == (True, 0)  # no savepoint: the caller's transaction


@pytest.mark.django_db(transaction=True)
def test_conflict_guard_keeps_the_callers_transaction_usable_and_costs_nothing_in_autocommit(
        django_assert_num_queries):
    with transaction.atomic():
        _key("a")
        with pytest.raises(IntegrityError), conflict_guard():
            _key("a")
        assert IdempotencyKey.objects.filter(key="a").count() == 1  # the transaction goes on
    with django_assert_num_queries(1), conflict_guard():  # autocommit: the INSERT alone, no BEGIN/SAVEPOINT
        _key("b")
    with pytest.raises(IntegrityError), conflict_guard():
        _key("b")
    assert IdempotencyKey.objects.count() == 2
