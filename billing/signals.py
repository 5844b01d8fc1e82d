"""Receivers of other apps' signals."""

from __future__ import annotations

from typing import Any

from billing import errors
from billing.selectors import wallet as wallet_selectors


def refuse_deleting_a_rider_in_debt(sender: Any, user: Any, **kwargs: Any) -> None:
    """accounts.signals.user_deleting: an account that owes money may not be deleted."""
    for currency in wallet_selectors.wallet_currencies(user=user):
        debt = wallet_selectors.wallet_balance(user=user, currency=currency).debt
        if debt > 0:
            raise errors.OutstandingDebt(debt=str(debt), currency=currency)
