"""Input and output shapes of the accounts API (names are OpenAPI component names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import requirements, selectors
from accounts.models import (
    Device,
    DevicePlatform,
    Notification,
    NotificationCategory,
    PushProvider,
    User,
    is_placeholder_email,
    validate_time_zone,
)
from accounts.phone import PhoneField


class EmailIn(serializers.EmailField):
    """An email address a person can receive mail at: addresses on ``.invalid`` are reserved for placeholders."""

    def to_internal_value(self, data: Any) -> str:
        email = super().to_internal_value(data).strip().lower()
        if is_placeholder_email(email):
            raise serializers.ValidationError("This email domain is reserved.", code="invalid")
        return email


def _date_of_birth_check(value: dt.date) -> None:
    if value is not None and not (dt.date(1900, 1, 1) <= value <= timezone.localdate()):
        raise serializers.ValidationError("Date of birth must be between 1900-01-01 and today.")


class UserOut(serializers.ModelSerializer[User]):
    email = serializers.SerializerMethodField(help_text="null for accounts created by phone sign-in")
    phone = serializers.SerializerMethodField(help_text="E.164, or null")
    roles = serializers.SerializerMethodField(help_text="staff roles (Django groups)")
    phone_verified = serializers.SerializerMethodField(help_text="the phone was proved by an SMS code")

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "phone",
            "phone_verified",
            "name",
            "date_of_birth",
            "status",
            "is_staff",
            "roles",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_email(self, user: User) -> str | None:
        return user.email if user.has_real_email else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_phone(self, user: User) -> str | None:
        return user.phone or None

    def get_phone_verified(self, user: User) -> bool:
        return bool(user.phone and user.phone_verified_at)

    def get_roles(self, user: User) -> list[str]:
        return selectors.user_roles(user=user)


class RideRequirementActionOut(serializers.Serializer[Any]):
    method = serializers.CharField(help_text="HTTP method of the call that satisfies the requirement")
    path = serializers.CharField(help_text="Its path, e.g. /api/v1/payment-methods")
    body_fields = serializers.ListField(child=serializers.CharField(),
                                   help_text="The body fields to send (PATCH /api/v1/me), else empty")


class RideRequirementOut(serializers.Serializer[Any]):
    code = serializers.ChoiceField(
        choices=["outstanding_debt", "payment_method_required", "date_of_birth_required"],
        help_text="The error code a ride start or a reservation answers with while this is missing")
    message = serializers.CharField()
    action = RideRequirementActionOut()
    details = serializers.DictField(
        help_text="outstanding_debt: `owed` (money per currency); payment_method_required: `currencies`; "
                  "date_of_birth_required: `vehicle_types` (code, min_rider_age)")


class MeOut(UserOut):
    ride_requirements = serializers.SerializerMethodField(
        help_text="What is still needed before a ride can start: each is a refusal the start would give")

    class Meta(UserOut.Meta):
        fields = [*UserOut.Meta.fields, "ride_requirements"]
        read_only_fields = fields

    @extend_schema_field(RideRequirementOut(many=True))
    def get_ride_requirements(self, user: User) -> list[dict[str, Any]]:
        return RideRequirementOut(requirements.requirements_for(user), many=True).data  # type: ignore[return-value]


class TokenPairOut(serializers.Serializer[Any]):
    access = serializers.CharField(help_text="JWT access token, send as `Authorization: Bearer <access>`")
    refresh = serializers.CharField(help_text="JWT refresh token, single use (rotated on refresh)")


class SignInOut(serializers.Serializer[Any]):
    user = UserOut()
    tokens = TokenPairOut()
    created = serializers.BooleanField(help_text="true when this request created the account")


class RegisterIn(serializers.Serializer[Any]):
    email = EmailIn(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=150)
    phone = PhoneField(required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(validators=[_date_of_birth_check])


class TokenObtainIn(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenRefreshIn(serializers.Serializer[Any]):
    refresh = serializers.CharField()


class LogoutIn(serializers.Serializer[Any]):
    refresh = serializers.CharField()
    everywhere = serializers.BooleanField(
        default=False, help_text="revoke every refresh token of the account"
    )


class LogoutOut(serializers.Serializer[Any]):
    revoked = serializers.IntegerField(help_text="number of refresh tokens revoked")


class MeUpdateIn(serializers.Serializer[Any]):
    email = EmailIn(max_length=254, required=False)
    name = serializers.CharField(max_length=150, required=False)
    phone = PhoneField(required=False, allow_blank=True, help_text="E.164; empty string removes it")
    date_of_birth = serializers.DateField(required=False, allow_null=True, validators=[_date_of_birth_check])


class PasswordChangeIn(serializers.Serializer[Any]):
    old_password = serializers.CharField(
        max_length=128,
        trim_whitespace=False,
        required=False,
        default="",
        help_text="required unless the account has no password yet (phone sign-in)",
    )
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetIn(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)


class AcceptedOut(serializers.Serializer[Any]):
    detail = serializers.CharField()


class PasswordResetConfirmIn(serializers.Serializer[Any]):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PhoneStartIn(serializers.Serializer[Any]):
    phone = PhoneField()


class PhoneVerifyIn(serializers.Serializer[Any]):
    phone = PhoneField()
    code = serializers.RegexField(r"^\d{6}$", help_text="the 6-digit code from the SMS")


class NotificationOut(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "data", "created_at", "read_at"]


# --- Devices and notification preferences (docs/accounts.md "Push notifications") ---------------------------

def _time_zone_check(value: str | None) -> None:
    try:
        validate_time_zone(value or "")
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class DeviceRegisterIn(serializers.Serializer[Any]):
    provider = serializers.ChoiceField(choices=PushProvider.choices,
                                       help_text="fcm: the FCM registration token, on Android and iOS alike")
    platform = serializers.ChoiceField(choices=DevicePlatform.choices)
    token = serializers.CharField(max_length=1024, help_text="the provider's registration token of this install")
    app_version = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    locale = serializers.CharField(
        max_length=35, required=False, default="", allow_blank=True,
        help_text="BCP 47, e.g. de-DE (omitted: the request's Accept-Language); picks the language of "
                  "notifications unless the rider chose one")
    time_zone = serializers.CharField(
        max_length=64, required=False, default="", allow_blank=True, validators=[_time_zone_check],
        help_text="IANA, e.g. Europe/Berlin: quiet hours are in this zone unless the rider chose one")


class DeviceOut(serializers.ModelSerializer[Device]):
    class Meta:
        model = Device
        fields = ["install_id", "provider", "platform", "app_version", "locale", "time_zone", "created_at",
                  "registered_at", "last_push_at"]
        read_only_fields = fields


class PushChoicesIn(serializers.Serializer[Any]):
    """Which categories reach the phone (the inbox has every notification). ``ride_alerts`` and ``account``
    cannot be switched off."""

    ride_alerts = serializers.BooleanField(required=False, help_text="no-riding zone entered during a ride")
    account = serializers.BooleanField(required=False, help_text="a ride ended by us or automatically, account")
    receipts = serializers.BooleanField(required=False, help_text="ride receipts")
    reservations = serializers.BooleanField(required=False, help_text="a reservation lapsed")
    marketing = serializers.BooleanField(required=False, help_text="offers and news (off until turned on)")


class PushChoicesOut(PushChoicesIn):
    ride_alerts = serializers.BooleanField()
    account = serializers.BooleanField()
    receipts = serializers.BooleanField()
    reservations = serializers.BooleanField()
    marketing = serializers.BooleanField()


class QuietHours(serializers.Serializer[Any]):
    start = serializers.TimeField(format="%H:%M", help_text="local time, e.g. 22:00")
    end = serializers.TimeField(format="%H:%M", help_text="local time, e.g. 07:00 (may be the next day)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {key: value.replace(second=0, microsecond=0) for key, value in attrs.items()}
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError("start and end must differ")
        return attrs


class NotificationPreferencesIn(serializers.Serializer[Any]):
    push = PushChoicesIn(required=False)
    quiet_hours = QuietHours(required=False, allow_null=True, help_text="null: none")
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False, allow_null=True,
                                       help_text="null: the app's (the locale of the install registered last)")
    time_zone = serializers.CharField(max_length=64, required=False, allow_null=True, validators=[_time_zone_check],
                                      help_text="IANA; null: the zone of the install registered last")


class NotificationPreferencesOut(serializers.Serializer[Any]):
    push = PushChoicesOut()
    always_on = serializers.ListField(child=serializers.ChoiceField(choices=NotificationCategory.choices),
                                      help_text="categories that cannot be switched off")
    quiet_hours = QuietHours(allow_null=True, help_text="pushes that are not urgent wait until they end")
    language = serializers.ChoiceField(choices=settings.LANGUAGES, allow_null=True,
                                       help_text="chosen by the rider; null: the app's")
    effective_language = serializers.ChoiceField(choices=settings.LANGUAGES,
                                                 help_text="what notifications are written in now")
    time_zone = serializers.CharField(allow_null=True, help_text="chosen by the rider; null: the app's")
    effective_time_zone = serializers.CharField(help_text="the zone of quiet hours now")
