from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Cast, Lower, Upper
from django.utils import timezone

# Accounts without a real address (phone sign-in, deleted accounts) get a unique placeholder on this reserved
# domain: ".invalid" can never be delivered to (RFC 6761), and registration refuses it, so no one can claim it.
PLACEHOLDER_EMAIL_DOMAIN = "accounts.freewheel.invalid"


def placeholder_email(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}@{PLACEHOLDER_EMAIL_DOMAIN}"


def is_placeholder_email(email: str) -> bool:
    return email.lower().endswith(".invalid")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")


def validate_language(value: str) -> None:
    """One of ``settings.LANGUAGES`` (the languages notifications are written in)."""
    from django.conf import settings

    if value and value not in dict(settings.LANGUAGES):
        raise ValidationError(f"{value!r} is not a supported language ({', '.join(dict(settings.LANGUAGES))})")


class User(AbstractBaseUser, PermissionsMixin):
    """A rider or a staff member. Email is the login (unique, case-insensitive); phone is optional."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKED = "blocked"
        DELETED = "deleted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)  # stored lower-case; Lower() constraint too
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +4915112345678")
    phone_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the phone was proved by an SMS code; unverified numbers do not sign in",
    )
    name = models.CharField(max_length=150, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    blocked_reason = models.CharField(max_length=255, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA, e.g. Europe/Berlin: times in the admin show in this zone (empty: OPS_TIME_ZONE, "
        "else the only city's zone, else UTC)",
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        db_default="",  # rows inserted in SQL (bench seeders, imports) get the app's language too
        validators=[validate_language],
        help_text="language of notifications and pushes, e.g. de (empty: the app's, from its latest device)",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []  # noqa: RUF012

    class Meta:
        permissions = [("block_user", "Can block and unblock users")]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
            models.UniqueConstraint(
                fields=["phone"], condition=~models.Q(phone=""), name="user_phone_unique_when_set"
            ),
        ]
        indexes = [
            # The admin at city scale (python -m bench admin): newest first, and the search by the beginning of
            # an e-mail in any case (UPPER(email::text) LIKE 'ANNA%', what Django's istartswith sends).
            models.Index(fields=["-created_at"], name="user_created"),
            # The filters "staff" and "superuser": a few rows among millions of riders (tiny partial indexes).
            models.Index(fields=["-created_at"], condition=models.Q(is_staff=True), name="user_staff_created"),
            models.Index(fields=["-created_at"], condition=models.Q(is_superuser=True),
                         name="user_superuser_created"),
            models.Index(OpClass(Upper(Cast("email", models.TextField())), name="text_pattern_ops"),
                         name="user_email_upper_prefix"),
            # The same for a name's beginning (support's rider search, the user list's search).
            models.Index(OpClass(Upper(Cast("name", models.TextField())), name="text_pattern_ops"),
                         name="user_name_upper_prefix"),
        ]

    def __str__(self) -> str:
        return self.contact_label or f"{self.status} account {self.pk}"

    @property
    def contact_label(self) -> str:
        """How to name the account to people (receipts, admin lists, other riders): the real email, else the
        masked phone (``+49 151 •••• 5678``), else ``""``. Never the placeholder address."""
        if self.has_real_email:
            return self.email
        from accounts import phone  # accounts.phone imports DRF; models load before it may

        return phone.phone_masked(self.phone)

    @property
    def has_real_email(self) -> bool:
        return not is_placeholder_email(self.email)


class PhoneOtp(models.Model):
    """The one outstanding sign-in code of a phone number; a new code replaces the old one.

    Only an HMAC of the code is stored. After ``MAX_ATTEMPTS`` wrong guesses the code is burned: the row stays
    (so further guesses keep getting ``otp_attempts_exceeded``) until a new code is requested.
    """

    MAX_ATTEMPTS = 5

    phone = models.CharField(max_length=20, unique=True)
    code_hash = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(attempts__lte=5), name="phoneotp_attempts_max")
        ]

    def __str__(self) -> str:
        return f"OTP for {self.phone}"

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @property
    def is_burned(self) -> bool:
        return self.attempts >= self.MAX_ATTEMPTS


class Notification(models.Model):
    """A message to one user (ride auto-ended, reservation expired, zone warning...), shown in the app's inbox.

    Written by ``accounts.services.notify``, which also pushes it live and to the phone (``PUSH_BACKEND``).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=64, help_text="Machine-readable, e.g. ride_auto_ended")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_created"),
                   # The admin's filter by kind (values read by a loose index scan), newest first.
                   models.Index(fields=["kind", "-created_at"], name="notification_kind_created")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class RefreshTokenFamily(models.Model):
    """The sign-in a refresh token descends from: a rotation keeps its token's family, so presenting a token
    that was already rotated (a stolen copy, or the original after the thief rotated it) revokes every token of
    that family, the newest included (``accounts.services.tokens.token_refresh``; docs/accounts.md "Tokens")."""

    token = models.OneToOneField("token_blacklist.OutstandingToken", on_delete=models.CASCADE, primary_key=True,
                                 related_name="family")
    family = models.UUIDField(db_index=True)

    class Meta:
        verbose_name_plural = "refresh token families"

    def __str__(self) -> str:
        return f"{self.token_id} in {self.family}"


class PushProvider(models.TextChoices):
    """Who delivers to the device. FCM delivers to Android and, through the APNs key in the Firebase project, to
    iOS: one provider for both (docs/accounts.md "Push notifications")."""

    FCM = "fcm", "Firebase Cloud Messaging"


class DevicePlatform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"


class Device(models.Model):
    """One app install that receives pushes: its provider token, replaced when the app registers again.

    One token, one account (a token registered by another account moves to it); one row per install and account.
    Deleted when the rider unregisters it or the provider says the token is invalid.
    """

    MAX_PER_USER = 10  # registering one more drops the one registered longest ago (old phones)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    install_id = models.CharField(max_length=64, help_text="chosen by the app, stable for one install")
    provider = models.CharField(max_length=8, choices=PushProvider.choices)
    platform = models.CharField(max_length=8, choices=DevicePlatform.choices)
    token = models.CharField(max_length=1024, help_text="the provider's registration token")
    app_version = models.CharField(max_length=32, blank=True)
    locale = models.CharField(max_length=35, blank=True, help_text="BCP 47, as the app reports it, e.g. de-DE")
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone],
                                 help_text="IANA, as the app reports it")
    created_at = models.DateTimeField(default=timezone.now)
    registered_at = models.DateTimeField(default=timezone.now, help_text="the latest registration")
    last_push_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "install_id"], name="device_user_install_unique"),
            models.UniqueConstraint(fields=["provider", "token"], name="device_provider_token_unique"),
        ]
        indexes = [models.Index(fields=["user", "-registered_at"], name="device_user_registered")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.install_id}"


class NotificationCategory(models.TextChoices):
    """What a notification is about; the rider chooses which categories reach the phone
    (``accounts.notification_kinds`` says which kinds belong where)."""

    RIDE_ALERTS = "ride_alerts", "Safety alerts during a ride"
    ACCOUNT = "account", "Your rides and account"
    RECEIPTS = "receipts", "Ride receipts"
    RESERVATIONS = "reservations", "Reservations"
    MARKETING = "marketing", "Offers and news"


class NotificationPreference(models.Model):
    """A rider's push choices; no row: the defaults (every category but marketing, no quiet hours)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True,
                                related_name="notification_preference")
    push_receipts = models.BooleanField(default=True)
    push_reservations = models.BooleanField(default=True)
    push_marketing = models.BooleanField(default=False, help_text="opt-in: off until the rider turns it on")
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="local time in the rider's zone")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                       | (models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False)
                          & ~models.Q(quiet_hours_start=models.F("quiet_hours_end")))),
            name="notificationpreference_quiet_hours_pair")]

    def __str__(self) -> str:
        return f"notification preferences of {self.user_id}"


class PushDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # due at next_attempt_at: now, after quiet hours, or a retry
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # refused for good, or every attempt failed
    INVALID_TOKEN = "invalid_token", "Invalid token"  # the provider no longer knows it: the device was removed
    EXPIRED = "expired", "Expired"  # not sent before it went stale (held too long); the inbox still has it


class PushDelivery(models.Model):
    """One notification to one device through ``PUSH_BACKEND``, attempted by ``accounts.tasks.push_delivery_send``
    (retried with backoff) or, once due, by the beat sweep."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="push_deliveries")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="push_deliveries")
    state = models.CharField(max_length=16, choices=PushDeliveryState.choices, default=PushDeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(help_text="not before (quiet hours, backoff)")
    expires_at = models.DateTimeField(help_text="dropped if not sent by then")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "push deliveries"
        constraints = [models.UniqueConstraint(fields=["notification", "device"],
                                               name="pushdelivery_notification_device_unique")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="pushdelivery_due",
                         condition=models.Q(state__in=["pending", "sending"])),
            models.Index(fields=["-created_at"], name="pushdelivery_created"),
            models.Index(fields=["state", "-created_at"], name="pushdelivery_state_created"),  # admin filter
        ]

    def __str__(self) -> str:
        return f"push of {self.notification_id} to {self.device_id}: {self.state}"
