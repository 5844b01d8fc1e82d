"""Two submits of one confirmation form at the same moment (a double click on two connections) run the action
once: the note's unique submission token is the claim, on real PostgreSQL with real threads."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.selectors import wallet_balance
from billing.services import refunds
from console.models import SupportNote
from console.support import services
from tests.accounts.factories import UserFactory
from tests.fleet.test_permissions import member


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_grant_goodwill_once() -> None:
    rider, agent = UserFactory.create(), member("support_agent")
    submission = uuid.uuid4()
    start = threading.Barrier(2)
    ran: list[bool] = []

    def submit() -> None:
        try:
            start.wait()
            result = services.support_action(
                rider=rider, actor=agent, kind=SupportNote.Kind.GOODWILL, submission=submission, text="goodwill 2",
                run=lambda: str(refunds.goodwill_grant(user=rider, amount=Decimal(2), currency="EUR", reason="r",
                                                       actor=agent).pk))
            ran.append(result.ran)
        finally:
            connection.close()

    threads: list[Any] = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == [False, True]
    assert wallet_balance(user=rider, currency="EUR").bonus == Decimal(2)
    assert SupportNote.objects.filter(submission=submission).count() == 1
