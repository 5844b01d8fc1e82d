"""Passes (minute packs, day/week/month passes) and promo codes (wallet credit, percent off, referral)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper


class PassProduct(models.Model):
    """What can be bought. A minute pack gives ``minutes``; a period pass waives the unlock and/or gives free
    minutes on every ride while it is valid. Both are valid for ``duration_days`` from purchase."""

    class Kind(models.TextChoices):
        MINUTE_PACK = "minute_pack"
        PERIOD_PASS = "period_pass"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    city = models.ForeignKey("fleet.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="Empty: valid in every city with this currency")
    currency = models.CharField(max_length=3)
    price = models.DecimalField(max_digits=12, decimal_places=4)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal(0))
    duration_days = models.PositiveIntegerField(default=30)
    minutes = models.PositiveIntegerField(default=0, help_text="Minute packs: minutes included")
    unlock_waived = models.BooleanField(default=False, help_text="Period passes: no unlock fee")
    free_minutes_per_ride = models.PositiveIntegerField(default=0, help_text="Period passes: free minutes per ride")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["price"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0, duration_days__gt=0), name="passproduct_positive"),
            models.CheckConstraint(
                condition=models.Q(kind="minute_pack", minutes__gt=0)
                | models.Q(kind="period_pass") & (models.Q(unlock_waived=True) | models.Q(free_minutes_per_ride__gt=0)),
                name="passproduct_gives_something",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RiderPass(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="passes")
    product = models.ForeignKey(PassProduct, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    minutes_remaining = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "rider passes"
        indexes = [models.Index(fields=["user", "ends_at"], name="riderpass_user_valid")]

    def __str__(self) -> str:
        return f"{self.product} until {self.ends_at:%Y-%m-%d}"


class PassUse(models.Model):
    """Minutes a ride took from a pack: written once per ride (the unique ride id makes it idempotent)."""

    ride_id = models.UUIDField(unique=True)
    minutes = models.PositiveIntegerField()
    promo_redemption = models.ForeignKey("billing.PromoRedemption", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ride {self.ride_id}: {self.minutes} min"


class PromoCode(models.Model):
    class Kind(models.TextChoices):
        CREDIT = "credit", "Fixed wallet credit"
        PERCENT_OFF = "percent_off", "Percent off the next ride"
        REFERRAL = "referral", "Referral: credit for the new rider and for the referrer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=40, unique=True, help_text="Stored upper-case; matched case-insensitively")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    referrer_amount = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited")
    per_rider_limit = models.PositiveIntegerField(default=1)
    redemptions = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Staff who wrote the code in the admin: they may not redeem it, nor be its referrer (self_action_forbidden).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(Upper("code"), name="promocode_code_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(kind="credit", amount__gt=0)
                | models.Q(kind="percent_off", percent__gt=0, percent__lte=100)
                | models.Q(kind="referral", amount__gt=0, referrer__isnull=False, referrer_amount__gte=0),
                name="promocode_kind_fields",
            ),
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True) | models.Q(redemptions__lte=models.F("max_redemptions")),
                name="promocode_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class PromoRedemption(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemption_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promo_redemptions")
    used_on_ride = models.UUIDField(null=True, blank=True, help_text="Percent-off: the ride it discounted")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.promo} by {self.user_id}"
