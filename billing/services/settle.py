"""Settle my balance: charge exactly the outstanding debt to a saved card (a top-up cannot: its minimum is 5.00).

The amount is fixed when the payment row is written, under the row locks of the rider's cash and receivable
accounts, so it is what is owed at the moment of charging (not what the app showed a minute ago; the answer says
when the two differ). The card money then takes the top-up path: it lands in the cash wallet and
``debt.debt_settle_after`` moves it to the receivable in the same transaction.

Two settles at once charge once: the second waits for the first's row lock, then finds its unfinished payment
(409 ``settlement_in_progress``) or no debt left (409 ``nothing_to_settle``); a partial unique constraint
(``payment_one_open_settlement``) backs this up. A settlement left waiting for 3-D Secure is voided by the next
settle, so an abandoned challenge never blocks the rider, and a voided challenge cannot be completed later. One
whose answer was lost (``unknown``: the provider timed out; or ``pending`` for ``STALE_PENDING``: the request died)
is asked again with its own idempotency key, so the
provider replays what it did instead of charging twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import AccountKind, LedgerAccount, Payment, PaymentMethod
from billing.selectors import wallet as wallet_selectors
from billing.services import ledger, payments

S = Payment.Status
OPEN_STATUSES = (S.PENDING, S.UNKNOWN, S.REQUIRES_ACTION, S.AUTHORISED)
# A settlement still ``pending`` this long after its last change lost its request (a crash between writing the row
# and recording the provider's answer): it is asked again like an ``unknown`` one. Far longer than a provider call
# with its retries, so a request still waiting for its answer is never overtaken.
STALE_PENDING = timedelta(minutes=5)


@dataclass(frozen=True)
class Settlement:
    """The settlement payment and what the app expected to pay (``None`` when it did not say)."""

    payment: Payment
    expected: Decimal | None

    @property
    def amount_changed(self) -> bool:
        return self.expected is not None and self.expected != self.payment.amount


def wallet_settle(
    *, user: User, currency: str | None = None, payment_method_id: uuid.UUID | None = None,
    expected: Decimal | None = None,
) -> Settlement:
    """Charge the outstanding balance in ``currency`` to a card (the default one unless named).

    ``currency`` may be left out when the rider owes in one currency only. Call outside a transaction: the
    payment row is committed before the provider is called. Declines raise as for top-ups and leave a ``failed``
    payment; 3-D Secure leaves ``requires_action`` (the webhook then credits the payment).
    """
    method = _method(user, payment_method_id)
    currency = currency or _owed_currency(user)
    recovered = _unknown_asked_again(user, currency)
    if recovered is not None:
        return Settlement(payment=recovered, expected=expected)
    for unfinished in Payment.objects.filter(user=user, purpose=Payment.Purpose.DEBT_SETTLE, currency=currency,
                                             status=S.REQUIRES_ACTION):
        payments.payment_void(payment=unfinished)  # a provider call: outside the transaction below
    payment = _payment_open(user=user, currency=currency, method=method)
    return Settlement(payment=payments.payment_authorise(payment=payment, capture=True), expected=expected)


def _unknown_asked_again(user: User, currency: str) -> Payment | None:
    """Ask the provider again about a settlement whose answer was lost; the answer if it went through.

    The same idempotency key (``authorise:<payment id>``) makes the provider replay its first result. A conditional
    UPDATE (to pending, now) claims the payment, so two settles never ask at once (a concurrent one then sees
    ``settlement_in_progress``). A decline frees the way for a new settlement; a timeout again is 503.
    """
    now = timezone.now()
    lost = Q(status=S.UNKNOWN) | Q(status=S.PENDING, updated_at__lt=now - STALE_PENDING)
    for payment in Payment.objects.filter(lost, user=user, purpose=Payment.Purpose.DEBT_SETTLE,
                                          currency=currency).select_related("payment_method"):
        if not Payment.objects.filter(lost, pk=payment.pk).update(status=S.PENDING, updated_at=now):
            continue  # another request claimed it
        try:
            return payments.payment_authorise(payment=payment, capture=True)
        except (errors.PaymentDeclined, errors.PaymentInsufficientFunds):
            continue  # failed: no longer in the way
    return None


def _method(user: User, payment_method_id: uuid.UUID | None) -> PaymentMethod:
    if payment_method_id is None:
        method = wallet_selectors.payment_method_default(user=user)
        if method is None:
            raise errors.NoPaymentMethod("Add a card to settle the outstanding balance.")
        return method
    method = PaymentMethod.objects.filter(user=user, pk=payment_method_id).first()
    if method is None:
        raise errors.PaymentMethodNotFound()
    return method


def _owed_currency(user: User) -> str:
    owed = wallet_selectors.debt_currencies(user=user)
    if not owed:
        raise errors.NothingToSettle()
    if len(owed) > 1:
        raise errors.SettlementCurrencyRequired(currencies=owed)
    return owed[0]


@transaction.atomic
def _payment_open(*, user: User, currency: str, method: PaymentMethod) -> Payment:
    """Write the settlement payment for what is owed now; refused while another one is unfinished."""
    cash, receivable = ledger.rider_accounts(
        user=user, kinds=(AccountKind.RIDER_CASH, AccountKind.RIDER_RECEIVABLE), currency=currency)
    # The order ledger_post locks accounts in (by id), so a concurrent posting cannot deadlock with us.
    fresh = {a.pk: a.balance for a in LedgerAccount.objects.select_for_update()
             .filter(pk__in=[cash.pk, receivable.pk]).order_by("pk")}
    # Cash never sits beside debt after a commit (arriving cash settles it), but never charge for what cash covers.
    owed = fresh[receivable.pk] - max(-fresh[cash.pk], Decimal(0))
    unfinished = Payment.objects.filter(user=user, purpose=Payment.Purpose.DEBT_SETTLE, currency=currency,
                                        status__in=OPEN_STATUSES).first()
    if unfinished is not None:
        raise errors.SettlementInProgress(payment_id=str(unfinished.pk), status=unfinished.status)
    if owed <= 0:
        raise errors.NothingToSettle(currency=currency)
    try:
        return payments.payment_create(user=user, purpose=Payment.Purpose.DEBT_SETTLE, amount=owed,
                                       currency=currency, method=method)
    except IntegrityError:  # the unique constraint, should a writer ever skip the lock above
        raise errors.SettlementInProgress() from None


__all__ = ["Settlement", "wallet_settle"]
