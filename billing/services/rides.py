"""The money flow of a ride, called by the rides app: hold at start, final charge at end, release on cancel.

A ride is secured by the wallet (when it holds at least the hold amount) or by a card hold. At the end the fare
is paid from bonus, then cash, then the card (captured up to the hold, plus an extra charge above it); whatever
is still missing becomes debt, which blocks new rides until a top-up settles it. Every step is keyed by the
ride or the payment, so a retried or concurrent call never charges twice.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.fares import Fare
from billing.models import AccountKind, LedgerAccount, Payment, PaymentMethod, RideBilling
from billing.selectors import rides as ride_selectors
from billing.selectors import wallet as wallet_selectors
from billing.services import ledger, passes, payments
from billing.services.ledger import Line, credit, debit
from billing.services.wallet import amount_check
from core.db import conflict_guard
from fleet.models import City

Status = RideBilling.Status


def ride_hold_place(*, rider: User, ride_id: UUID, amount: Decimal, currency: str, new_ride: bool = False,
                    money: wallet_selectors.RiderMoney | None = None, city_id: UUID | None = None) -> RideBilling:
    """Secure the ride before unlock. Idempotent per ride; raises a domain error when the rider cannot pay.
    ``city_id``: the ride's city, which the billing keeps so that staff see the money of their cities only.

    For the ride start's own first call: ``new_ride`` says the ride was created in this very request, so no
    billing can exist for it yet (skips the look-up that makes retries idempotent); ``money`` is the
    ``rider_money`` the start's gate read a moment ago (a top-up or charge in between is the same race as one
    just after the hold). A concurrent second hold for the ride still fails on the unique ride key.
    """
    if not new_ride:
        existing = RideBilling.objects.filter(ride_id=ride_id).first()
        if existing is not None:
            if existing.user_id != rider.pk:
                raise errors.RideBillingExists()
            return existing
    amount_check(amount, currency, minimum=Decimal(0), maximum=Decimal(10_000))
    if money is None or money.balance.currency != currency:
        money = wallet_selectors.rider_money(rider, currency)
    balance, method = money.balance, money.method
    if balance.debt > 0:
        raise errors.OutstandingDebt(debt=str(balance.debt), currency=currency)
    # The wallet secures the ride when it covers the hold, or, for riders without a card, when it holds the
    # minimum balance (the same rule as rider_can_start_ride; a longer ride may then end in debt).
    if balance.available >= amount or (method is None and balance.available >= settings.BILLING_MIN_WALLET_BALANCE):
        return _billing_create(rider, ride_id, amount, currency, RideBilling.Method.WALLET, None, new_ride, city_id)
    if method is None:
        raise errors.NoPaymentMethod()
    hold = payments.payment_create(
        user=rider, purpose=Payment.Purpose.RIDE_HOLD, amount=amount, currency=currency, method=method, ride_id=ride_id
    )
    hold = payments.payment_authorise(payment=hold, capture=False)
    if hold.status != Payment.Status.AUTHORISED:  # 3-D Secure cannot be answered at a vehicle: refuse
        payments.payment_void(payment=hold)
        raise errors.PaymentActionRequired()
    return _billing_create(rider, ride_id, amount, currency, RideBilling.Method.CARD, hold, new_ride, city_id)


def _billing_create(
    rider: User, ride_id: UUID, amount: Decimal, currency: str, method: str, hold: Payment | None, new_ride: bool,
    city_id: UUID | None,
) -> RideBilling:
    fields = {"user": rider, "currency": currency, "method": method, "hold_amount": amount, "hold": hold,
              "city_id": city_id}
    if new_ride:  # one INSERT; a concurrent second hold for the ride raises IntegrityError (the unique ride key)
        with conflict_guard():
            return RideBilling.objects.create(ride_id=ride_id, **fields)
    billing, _ = RideBilling.objects.get_or_create(ride_id=ride_id, defaults=fields)
    return billing


def _claim(ride_id: UUID, fare: Fare) -> RideBilling:
    """HELD -> CHARGING, fixing the fare and what the card must cover, so that retries repeat the same calls."""
    with transaction.atomic():
        billing = (RideBilling.objects.select_for_update(of=("self",)).select_related("user", "hold")
                   .filter(ride_id=ride_id).first())
        if billing is None:
            raise errors.RideBillingNotFound()
        if billing.currency != fare.currency:
            raise errors.CurrencyMismatch(expected=billing.currency, got=fare.currency)
        if billing.status == Status.RELEASED:
            raise errors.RideBillingState(status=billing.status)
        if billing.status == Status.HELD:
            available = wallet_selectors.wallet_balance(user=billing.user, currency=billing.currency).available
            billing.status, billing.fare_total, billing.fare = Status.CHARGING, fare.total, fare.to_json()
            billing.card_due = max(fare.total - available, Decimal(0))
            billing.save(update_fields=["status", "fare_total", "fare", "card_due"])
        return billing


def ride_charge_final(*, ride_id: UUID, fare: Fare, city: City | None = None) -> RideBilling:
    """Charge the final fare once. Safe to retry (also after a crash half-way) and to call concurrently.

    ``city`` attributes the revenue and VAT to the city's accounts (else to the currency-wide ones).
    """
    billing = _claim(ride_id, fare)
    if billing.status == Status.CHARGED:
        return billing
    _collect_by_card(billing, billing.card_due or Decimal(0))
    return _post_ride_charge(billing, fare, city)


def _collect_by_card(billing: RideBilling, due: Decimal) -> None:
    """Capture what the wallet cannot cover, up to the hold; charge the card for anything above it."""
    hold, covered = billing.hold, Decimal(0)
    if hold is not None:
        if hold.status == Payment.Status.AUTHORISED and not hold.failure_code and due > 0:
            # A retry repeats the first capture exactly (same key, same amount): the provider replays it.
            hold = payments.payment_capture(payment=hold, amount=hold.capture_amount or min(due, hold.amount))
        if hold.failure_code or due == 0:
            hold = payments.payment_void(payment=hold)  # a refused capture must not leave the hold dangling
        covered = Decimal(0) if hold.failure_code else (hold.capture_amount or Decimal(0))
    method = hold.payment_method if hold is not None else wallet_selectors.payment_method_default(user=billing.user)
    if due - covered > 0 and method is not None:
        _charge_extra(billing, due - covered, method)


def _charge_extra(billing: RideBilling, extra: Decimal, method: PaymentMethod) -> None:
    payment, _ = Payment.objects.get_or_create(
        ride_id=billing.ride_id, purpose=Payment.Purpose.RIDE_EXTRA,
        defaults={"user": billing.user, "provider": method.provider, "amount": extra, "currency": billing.currency,
                  "payment_method": method},
    )
    if payment.status not in (Payment.Status.PENDING, Payment.Status.UNKNOWN):
        return
    # Declined or provider down: the remainder becomes debt (a late webhook then settles it).
    with contextlib.suppress(errors.DomainError):
        payments.payment_authorise(payment=payment, capture=True)


def _post_ride_charge(billing: RideBilling, fare: Fare, city: City | None) -> RideBilling:
    with transaction.atomic():
        billing = RideBilling.objects.select_for_update(of=("self",)).select_related("user").get(pk=billing.pk)
        if billing.status == Status.CHARGED:
            return billing
        split = _split(billing, fare.total)
        revenue = ledger.system_account(kind=AccountKind.REVENUE, currency=billing.currency, city=city)
        vat = ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency=billing.currency, city=city)
        lines = [Line(account, amount) for account, amount in split if amount > 0]
        lines += [credit(revenue, fare.net_amount), credit(vat, fare.vat_amount)]
        if fare.total > 0:
            ledger.ledger_post(
                kind="ride_charge", idempotency_key=f"ride_charge:{billing.ride_id}", user=billing.user,
                ride_id=billing.ride_id, description="Ride", lines=lines, metadata={"fare": billing.fare},
            )
        # Card money was booked into cash before the split spent it: count it once, as card (ride_paid).
        paid = ride_selectors.ride_paid(ride_id=billing.ride_id, charge={a.kind: amount for a, amount in split if amount > 0})
        billing.paid_wallet, billing.paid_card, billing.debt = paid.wallet, paid.card, paid.outstanding
        billing.status, billing.charged_at = Status.CHARGED, timezone.now()
        billing.save()
        if city is not None:  # pack minutes and a percent-off promo are spent with the charge, atomically
            passes.ride_benefits_consume(rider=billing.user, city=city, ride_id=billing.ride_id, fare=fare,
                                         at=billing.created_at)
        return billing


def _split(billing: RideBilling, total: Decimal) -> list[tuple[LedgerAccount, Decimal]]:
    """Bonus first, then cash, the rest as debt; balances read under row locks (id order, like ledger_post)."""
    kinds = (AccountKind.RIDER_BONUS, AccountKind.RIDER_CASH, AccountKind.RIDER_RECEIVABLE)
    accounts = ledger.rider_accounts(user=billing.user, kinds=kinds, currency=billing.currency)
    fresh = {a.pk: a for a in LedgerAccount.objects.select_for_update().filter(pk__in=[a.pk for a in accounts])
             .order_by("pk")}
    remaining, split = total, []
    for account in accounts[:2]:
        take = min(-fresh[account.pk].balance, remaining)
        split.append((account, take))
        remaining -= take
    split.append((accounts[2], remaining))
    return split


def ride_hold_release(*, ride_id: UUID) -> RideBilling:
    """Cancel: void the card hold, charge nothing. Idempotent; refused once the ride was charged."""
    with transaction.atomic():
        billing = RideBilling.objects.select_for_update().filter(ride_id=ride_id).first()
        if billing is None:
            raise errors.RideBillingNotFound()
        if billing.status in (Status.CHARGING, Status.CHARGED):
            raise errors.RideBillingState(status=billing.status)
        billing.status = Status.RELEASED
        billing.save(update_fields=["status"])
    if billing.hold is not None:
        payments.payment_void(payment=billing.hold)
    return billing


__all__ = ["debit", "ride_charge_final", "ride_hold_place", "ride_hold_release"]
