"""Buying passes (paid from the wallet: bonus first, then cash), resolving a ride's Benefits, consuming them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing import errors, fares
from billing.models import AccountKind, LedgerAccount, PassProduct, PassUse, PromoRedemption, RiderPass
from billing.services import ledger
from billing.services.ledger import credit, debit
from core.db import joins_transaction
from core.money import quantize
from fleet.models import City


def _wallet_split(user: User, currency: str, amount: Decimal) -> list[ledger.Line]:
    """Debit lines taking ``amount`` from bonus then cash, under row locks; ``insufficient_funds`` otherwise."""
    kinds = (AccountKind.RIDER_BONUS, AccountKind.RIDER_CASH)
    accounts = ledger.rider_accounts(user=user, kinds=kinds, currency=currency)
    fresh = {a.pk: a for a in LedgerAccount.objects.select_for_update().filter(pk__in=[a.pk for a in accounts])
             .order_by("pk")}
    lines, remaining = [], amount
    for account in accounts:
        take = min(-fresh[account.pk].balance, remaining)
        if take > 0:
            lines.append(debit(account, take))
            remaining -= take
    if remaining > 0:
        raise errors.InsufficientFunds(missing=str(remaining), currency=currency)
    return lines


@transaction.atomic
def pass_buy(*, user: User, product_code: str, city: City | None = None) -> RiderPass:
    product = PassProduct.objects.filter(code=product_code, active=True).first()
    if product is None:
        raise errors.PassProductNotFound()
    if city is not None and (product.city_id not in (None, city.pk) or product.currency != city.currency):
        raise errors.PassNotValidHere()
    now = timezone.now()
    rider_pass = RiderPass.objects.create(
        user=user, product=product, starts_at=now, ends_at=now + timedelta(days=product.duration_days),
        minutes_remaining=product.minutes,
    )
    price = Decimal(product.price)
    vat = quantize(price * product.vat_rate / (1 + product.vat_rate), product.currency)
    revenue = ledger.system_account(kind=AccountKind.REVENUE, currency=product.currency, city=product.city)
    vat_account = ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency=product.currency, city=product.city)
    ledger.ledger_post(
        kind="pass_purchase", idempotency_key=f"pass:{rider_pass.pk}", user=user, description=product.name,
        lines=[*_wallet_split(user, product.currency, price), credit(revenue, price - vat), credit(vat_account, vat)],
    )
    return rider_pass


def _valid_passes(user: User, city: City, at: datetime) -> list[RiderPass]:
    return list(RiderPass.objects.filter(
        Q(product__city__isnull=True) | Q(product__city=city), user=user, product__currency=city.currency,
        starts_at__lte=at, ends_at__gt=at,
    ).select_related("product").order_by("ends_at"))


def _open_percent_promo(user: User, currency: str) -> PromoRedemption | None:
    return (PromoRedemption.objects.filter(user=user, promo__kind="percent_off", promo__currency=currency,
                                           used_on_ride__isnull=True)
            .select_related("promo").order_by("created_at").first())


def ride_benefits(*, rider: User, city: City, at: datetime | None = None) -> fares.Benefits:
    """What the rider's valid passes and unused percent-off promo give on a ride in ``city`` at ``at``."""
    passes = _valid_passes(rider, city, at or timezone.now())
    periods = [p.product for p in passes if p.product.kind == PassProduct.Kind.PERIOD_PASS]
    promo = _open_percent_promo(rider, city.currency)
    return fares.Benefits(
        unlock_waived=any(p.unlock_waived for p in periods),
        free_minutes=max((p.free_minutes_per_ride for p in periods), default=0),
        minute_pack_minutes_available=sum(p.minutes_remaining for p in passes
                                          if p.product.kind == PassProduct.Kind.MINUTE_PACK),
        percent_off=Decimal(promo.promo.percent) if promo and promo.promo.percent else None,
    )


@joins_transaction
def ride_benefits_consume(*, rider: User, city: City, ride_id: UUID, fare: fares.Fare, at: datetime) -> None:
    """Take the pack minutes the fare used (soonest-expiring first) and spend the percent-off promo; once per ride."""
    uses_promo = any(line.kind == "promo_percent" for line in fare.lines)
    if not uses_promo and not fare.minutes_from_pack_used:
        return  # nothing to spend (the fare is fixed per ride, so a retry has nothing to spend either)
    if PassUse.objects.filter(ride_id=ride_id).exists():
        return
    promo = _open_percent_promo(rider, city.currency) if uses_promo else None
    minutes = fare.minutes_from_pack_used
    packs = RiderPass.objects.select_for_update().filter(
        pk__in=[p.pk for p in _valid_passes(rider, city, at) if p.product.kind == PassProduct.Kind.MINUTE_PACK]
    ).order_by("ends_at")
    for pack in packs:
        take = min(pack.minutes_remaining, minutes)
        RiderPass.objects.filter(pk=pack.pk).update(minutes_remaining=pack.minutes_remaining - take)
        minutes -= take
    if promo is not None:
        PromoRedemption.objects.filter(pk=promo.pk, used_on_ride__isnull=True).update(used_on_ride=ride_id)
    PassUse.objects.create(ride_id=ride_id, minutes=fare.minutes_from_pack_used, promo_redemption=promo)
