"""Redeeming promo codes: wallet credit, percent off the next ride, and referral credit for both riders."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import AccountKind, PromoCode, PromoRedemption
from billing.services import wallet


def _check(promo: PromoCode, user: User) -> None:
    now = timezone.now()
    if not promo.active or promo.valid_from > now or (promo.valid_until is not None and promo.valid_until <= now):
        raise errors.PromoCodeExpired()
    if promo.max_redemptions is not None and promo.redemptions >= promo.max_redemptions:
        raise errors.PromoCodeExhausted()
    if promo.referrer_id == user.pk:
        raise errors.PromoCodeOwn()
    if user.pk in (promo.created_by_id, promo.updated_by_id):
        raise errors.SelfActionForbidden("Staff may not redeem a promo code they created or edited.")
    if PromoRedemption.objects.filter(promo=promo, user=user).count() >= promo.per_rider_limit:
        raise errors.PromoCodeAlreadyUsed()
    if promo.kind == PromoCode.Kind.REFERRAL and PromoRedemption.objects.filter(
            user=user, promo__kind=PromoCode.Kind.REFERRAL).exists():
        raise errors.PromoCodeAlreadyUsed("A rider can be referred only once.")


@transaction.atomic
def promo_redeem(*, user: User, code: str) -> PromoRedemption:
    """Validate and apply a code atomically: the code's row lock serialises redemptions against its limits."""
    promo = PromoCode.objects.select_for_update().filter(code__iexact=code.strip()).first()
    if promo is None:
        raise errors.PromoCodeUnknown()
    _check(promo, user)
    redemption = PromoRedemption.objects.create(promo=promo, user=user)
    PromoCode.objects.filter(pk=promo.pk).update(redemptions=promo.redemptions + 1)
    if promo.kind in (PromoCode.Kind.CREDIT, PromoCode.Kind.REFERRAL) and promo.amount:
        wallet.bonus_grant(user=user, amount=promo.amount, currency=promo.currency, source=AccountKind.PROMOTIONS,
                           idempotency_key=f"promo:{redemption.pk}", description=f"Promo code {promo.code}")
    if promo.kind == PromoCode.Kind.REFERRAL and promo.referrer is not None and promo.referrer_amount:
        wallet.bonus_grant(user=promo.referrer, amount=promo.referrer_amount, currency=promo.currency,
                           source=AccountKind.PROMOTIONS, idempotency_key=f"referral:{redemption.pk}",
                           description=f"Referral of {user.contact_label or 'a new rider'}")
    return redemption
