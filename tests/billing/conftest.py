from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.providers import testpsp
from billing.services import methods, wallet

WEBHOOK_URL = "/api/v1/billing/webhooks/testpsp"


def add_card(user: Any, token: str = "tok_visa") -> Any:
    return methods.payment_method_add(user=user, token=token)


def fund(user: Any, amount: str = "20.00", token: str = "tok_visa") -> Any:
    card = add_card(user, token)
    return wallet.wallet_top_up(user=user, amount=Decimal(amount), currency="EUR", payment_method_id=card.pk)


def deliver(api: Any, events: list[tuple[bytes, dict[str, str]]] | None = None) -> list[Any]:
    """POST the test provider's pending (or the given) webhook events to our endpoint, as the PSP would."""
    responses = []
    for body, headers in events if events is not None else testpsp.pending_events():
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        responses.append(api.anonymous().post(WEBHOOK_URL, data=body, content_type="application/json", **extra))
    return responses


@pytest.fixture
def card(rider: Any) -> Any:
    return add_card(rider)
