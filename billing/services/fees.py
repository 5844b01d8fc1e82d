"""Fees charged without a ride: a reservation cancelled or left to lapse (the rides app calls this).

The fee is booked once per reservation (ledger key ``reservation_fee:<id>``): paid from bonus, then cash, and
what the wallet cannot cover is debt. When the rider has a saved card, that debt is charged to it at once (one
payment per reservation, found again on a retry); the card money lands in the wallet and settles the debt
through the usual debt settlement (the payment is a ``top_up`` whose ``ride_id`` holds the reservation id). A declined card leaves the debt, which blocks the next ride until a top-up.
Revenue and VAT go to the city's accounts, as for rides.
"""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from uuid import UUID

from django.db import transaction

from accounts.models import User
from billing import errors
from billing.models import AccountKind, LedgerAccount, LedgerTransaction, Payment
from billing.selectors import wallet as wallet_selectors
from billing.services import ledger, payments
from billing.services.ledger import Line, credit
from billing.services.wallet import amount_check
from core.money import quantize
from fleet.models import City

logger = logging.getLogger(__name__)


def reservation_fee_charge(
    *, user: User, reservation_id: UUID, amount: Decimal, currency: str, vat_rate: Decimal = Decimal(0),
    city: City | None = None,
) -> LedgerTransaction | None:
    """Charge a reservation's fee (VAT included at ``vat_rate``) once; None for a zero fee. Safe to retry.

    Call outside a transaction: the card part talks to the payment provider.
    """
    if amount == 0:
        return None
    amount_check(amount, currency, minimum=Decimal("0.01"), maximum=Decimal(10_000))
    txn = _book(user, reservation_id, amount, currency, vat_rate, city)
    # The receivable line is a debit (positive): what the wallet could not cover.
    debt = next((e.amount for e in txn.entries.select_related("account") if e.account.kind == AccountKind.RIDER_RECEIVABLE), Decimal(0))
    if debt > 0:
        _charge_card(user, reservation_id, debt, currency)
    return txn


def _book(user: User, reservation_id: UUID, amount: Decimal, currency: str, vat_rate: Decimal,
          city: City | None) -> LedgerTransaction:
    with transaction.atomic():
        lines = [Line(account, take) for account, take in _wallet_split(user, currency, amount) if take > 0]
        vat = quantize(amount * vat_rate / (1 + vat_rate), currency)
        revenue = ledger.system_account(kind=AccountKind.REVENUE, currency=currency, city=city)
        lines += [credit(revenue, amount - vat)]
        if vat > 0:
            lines.append(credit(ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency=currency, city=city), vat))
        return ledger.ledger_post(
            kind="reservation_fee", idempotency_key=f"reservation_fee:{reservation_id}", user=user,
            description="Reservation fee", lines=lines,
            metadata={"reservation_id": str(reservation_id), "amount": str(amount), "vat": str(vat)},
        )


def _wallet_split(user: User, currency: str, total: Decimal) -> list[tuple[LedgerAccount, Decimal]]:
    """Bonus first, then cash, the rest as debt; balances read under row locks in id order (like ledger_post)."""
    kinds = (AccountKind.RIDER_BONUS, AccountKind.RIDER_CASH, AccountKind.RIDER_RECEIVABLE)
    accounts = ledger.rider_accounts(user=user, kinds=kinds, currency=currency)
    fresh = {a.pk: a for a in LedgerAccount.objects.select_for_update().filter(pk__in=[a.pk for a in accounts])
             .order_by("pk")}
    remaining, split = total, []
    for account in accounts[:2]:
        take = max(min(-fresh[account.pk].balance, remaining), Decimal(0))
        split.append((account, take))
        remaining -= take
    split.append((accounts[2], remaining))
    return split


def _charge_card(user: User, reservation_id: UUID, due: Decimal, currency: str) -> None:
    """Charge the default card for what the wallet could not cover; one payment per reservation."""
    method = wallet_selectors.payment_method_default(user=user)
    if method is None:
        return
    payment = Payment.objects.filter(user=user, purpose=Payment.Purpose.TOP_UP, ride_id=reservation_id).first()
    if payment is None:
        payment = payments.payment_create(user=user, purpose=Payment.Purpose.TOP_UP, amount=due, currency=currency,
                                          method=method, ride_id=reservation_id)
    if payment.status not in (Payment.Status.PENDING, Payment.Status.UNKNOWN):
        return
    with contextlib.suppress(errors.DomainError):  # declined or provider down: the fee stays as debt
        payments.payment_authorise(payment=payment, capture=True)


__all__ = ["reservation_fee_charge"]
