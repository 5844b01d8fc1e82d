"""Demo data of billing (``manage.py demo_data``): Berlin tariffs, passes, promo codes, and the demo rider's
test card and funded wallet. Idempotent: each piece is created only when missing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any, TextIO

from django.conf import settings
from django.utils import timezone

from accounts import demo as accounts_demo
from accounts.models import User
from billing.models import PassProduct, Payment, PromoCode, Tariff
from billing.providers import testpsp
from billing.selectors import wallet as wallet_selectors
from billing.services import methods, tariffs, wallet
from core.money import quantize
from fleet import demo as fleet_demo
from fleet.models import City, VehicleType

_B = "brackets"
TARIFFS: dict[str, dict[str, Any]] = {
    "fw-scooter": {"name": "Scooter", "unlock_fee": D("1.00"), _B: [{"start_minute": 0, "per_minute": "0.25"},
                   {"start_minute": 10, "per_minute": "0.19"}], "pause_per_minute": D("0.05"),
                   "ride_cap": D("15.00"), "daily_cap": D("30.00"), "vat_rate": D("0.19")},
    "fw-ebike": {"name": "E-Bike", "unlock_fee": D("1.00"), _B: [{"start_minute": 0, "per_minute": "0.20"}],
                 "pause_per_minute": D("0.05"), "free_minutes": 0, "ride_cap": D("12.00"), "vat_rate": D("0.19")},
    "fw-moped": {"name": "Moped", "unlock_fee": D("1.50"), _B: [{"start_minute": 0, "per_minute": "0.35"}],
                 "pause_per_minute": D("0.10"), "reservation_mode": "per_minute", "reservation_per_minute": D("0.10"),
                 "reservation_free_minutes": 10, "minimum_fare": D("2.00"), "vat_rate": D("0.19")},
}
PASSES: list[dict[str, Any]] = [
    {"code": "berlin-day", "name": "Berlin day pass", "kind": "period_pass", "price": D("9.99"), "duration_days": 1,
     "unlock_waived": True, "free_minutes_per_ride": 10},
    {"code": "berlin-week", "name": "Berlin week pass", "kind": "period_pass", "price": D("24.99"),
     "duration_days": 7, "unlock_waived": True},
    {"code": "minutes-60", "name": "60 minute pack", "kind": "minute_pack", "price": D("12.00"),
     "duration_days": 30, "minutes": 60},
]
PROMOS: list[dict[str, Any]] = [
    {"code": "WELCOME5", "kind": "credit", "amount": D("5.00"), "per_rider_limit": 1},
    {"code": "HALFOFF", "kind": "percent_off", "percent": D("50"), "max_redemptions": 1000},
]


def _tariffs(city: City) -> int:
    created = 0
    for vehicle_type in VehicleType.objects.filter(code__in=TARIFFS):
        if not Tariff.objects.filter(city=city, vehicle_type=vehicle_type).exists():
            tariffs.tariff_publish(city=city, vehicle_type=vehicle_type, **TARIFFS[vehicle_type.code])
            created += 1
    return created


def _catalogue(city: City) -> None:
    now = timezone.now()
    for product in PASSES:
        PassProduct.objects.get_or_create(code=product["code"], defaults={
            **product, "city": city, "currency": city.currency, "vat_rate": D("0.19")})
    for promo in PROMOS:
        PromoCode.objects.get_or_create(code=promo["code"], defaults={
            **promo, "currency": city.currency, "valid_from": now, "valid_until": now + timedelta(days=365)})


def _rider_wallet(rider: User, currency: str) -> None:
    if settings.BILLING_PROVIDER != "testpsp":
        return  # a real provider needs a real card: the demo only funds wallets through the test provider
    card = wallet_selectors.payment_method_default(user=rider) or methods.payment_method_add(user=rider, token="tok_visa")
    if not Payment.objects.filter(user=rider, purpose=Payment.Purpose.TOP_UP, status="captured").exists():
        wallet.wallet_top_up(user=rider, amount=D("20.00"), currency=currency, payment_method_id=card.pk)
        testpsp.pending_events()  # nobody listens to the demo's webhooks; the top-up was applied synchronously


def load(*, stdout: TextIO) -> None:
    city = City.objects.filter(slug=fleet_demo.CITY_SLUG).first()
    if city is None:
        stdout.write("billing: no demo city (load fleet first); skipped\n")
        return
    created = _tariffs(city)
    _catalogue(city)
    stdout.write(f"billing: {created} new tariff(s) for {city.slug}; passes {', '.join(p['code'] for p in PASSES)}; "
                 f"promo codes {', '.join(p['code'] for p in PROMOS)}\n")
    rider = User.objects.filter(email=accounts_demo.RIDER_EMAIL).first()
    if rider is None:
        return
    _rider_wallet(rider, city.currency)
    balance = wallet_selectors.wallet_balance(user=rider, currency=city.currency)
    card = wallet_selectors.payment_method_default(user=rider)
    cash, bonus = quantize(balance.cash, city.currency), quantize(balance.bonus, city.currency)
    stdout.write(f"billing: {rider.email} wallet {cash} {city.currency} cash, {bonus} bonus; "
                 f"card {card.brand if card else '-'} ****{card.last4 if card else '----'} ({settings.BILLING_PROVIDER})\n")
    stdout.write("billing: test cards (POST /api/v1/payment-methods {\"token\": ...}): "
                 + ", ".join(f"{token} {behaviour}" for behaviour, (_, token) in testpsp.CARDS.items()) + "\n")
