"""Wallet: top-ups through the payment provider, bonus credit, goodwill credit.

Spending order (documented in docs/billing.md): a ride is paid from bonus credit first, then cash, then the
card; what none of them covers becomes debt. Bonus goes first because it cannot be withdrawn or refunded, so the
rider keeps as much refundable cash as possible.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings

from accounts.models import User
from billing import errors
from billing.models import AccountKind, LedgerTransaction, Payment, PaymentMethod
from billing.services import ledger, payments
from billing.services.ledger import credit, debit
from core.money import quantize


def amount_check(amount: Decimal, currency: str, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    """Positive, within bounds, and no finer than the currency's minor unit."""
    if not amount.is_finite() or quantize(amount, currency) != amount or not (minimum <= amount <= maximum):
        raise errors.AmountInvalid(minimum=str(minimum), maximum=str(maximum), currency=currency)
    return amount


def wallet_top_up(*, user: User, amount: Decimal, currency: str, payment_method_id: uuid.UUID) -> Payment:
    """Charge the card and credit the wallet (settling any debt first). 3-D Secure returns ``requires_action``.

    Validation happens before anything is written; a declined card leaves a ``failed`` payment as the record of
    the attempt and raises ``payment_declined`` / ``card_insufficient_funds``.
    """
    amount_check(amount, currency, minimum=settings.BILLING_MIN_TOP_UP, maximum=settings.BILLING_MAX_TOP_UP)
    method = PaymentMethod.objects.filter(user=user, pk=payment_method_id).first()
    if method is None:
        raise errors.PaymentMethodNotFound()
    payment = payments.payment_create(
        user=user, purpose=Payment.Purpose.TOP_UP, amount=amount, currency=currency, method=method
    )
    return payments.payment_authorise(payment=payment, capture=True)


def bonus_grant(
    *, user: User, amount: Decimal, currency: str, source: AccountKind, idempotency_key: str, description: str,
    actor: User | None = None,
) -> LedgerTransaction:
    """Credit non-refundable bonus funded by ``source`` (promotions or goodwill); ``actor``: the staff member."""
    amount_check(amount, currency, minimum=Decimal("0.01"), maximum=settings.BILLING_MAX_TOP_UP)
    funding = ledger.system_account(kind=source, currency=currency)
    bonus = ledger.rider_account(user=user, kind=AccountKind.RIDER_BONUS, currency=currency)
    return ledger.ledger_post(
        kind="bonus", idempotency_key=idempotency_key, user=user, description=description, actor=actor,
        lines=[debit(funding, amount), credit(bonus, amount)],
    )
