"""Transaction helpers for the hot paths: join the caller's transaction instead of nesting savepoints.

``transaction.atomic`` inside a transaction is a SAVEPOINT and a RELEASE, two more round trips and their ORM work
for every nested service call (a ride start nested nine of them). A service whose checks all come before its
writes, and whose writes either all succeed or raise a database error (which aborts the caller's transaction
anyway), gains nothing from a savepoint: ``joins_transaction`` runs it in the caller's transaction, or in a
transaction of its own when called outside one. ``conflict_guard`` wraps one INSERT whose ``IntegrityError`` the
caller handles: a savepoint inside a transaction (so the error does not abort it), nothing in autocommit mode
(the statement is its own transaction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction


def joins_transaction[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in the caller's transaction, or in ``transaction.atomic`` when there is none.

    Only for functions that raise their domain errors before their first write (see the module docstring).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        with transaction.atomic():
            return func(*args, **kwargs)

    return wrapper


@contextmanager
def conflict_guard() -> Iterator[None]:
    """Around one INSERT whose ``IntegrityError`` the caller catches (see the module docstring)."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield
