"""One-time sign-in codes sent by SMS.

A code is 6 random digits, valid ``OTP_LIFETIME``; only an HMAC (keyed with SECRET_KEY and bound to the phone)
is stored, so a database leak does not reveal live codes. ``PhoneOtp.MAX_ATTEMPTS`` wrong guesses burn it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import errors, sms
from accounts.models import PhoneOtp, User, placeholder_email
from accounts.services import users

OTP_LIFETIME = timedelta(minutes=5)
OTP_DIGITS = 6


def _code_hash(*, phone: str, code: str) -> str:
    return salted_hmac("accounts.phone_otp", f"{phone}:{code}", algorithm="sha256").hexdigest()


def phone_otp_start(*, phone: str) -> PhoneOtp:
    """Create (or replace) the phone's code and send it by SMS once the row is committed."""
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    with transaction.atomic():
        otp, _ = PhoneOtp.objects.update_or_create(
            phone=phone,
            defaults={
                "code_hash": _code_hash(phone=phone, code=code),
                "expires_at": timezone.now() + OTP_LIFETIME,
                "attempts": 0,
                "created_at": timezone.now(),
            },
        )
        body = f"Your Freewheel code is {code}. It expires in {OTP_LIFETIME.seconds // 60} minutes."
        transaction.on_commit(lambda: sms.sms_send(to=phone, body=body))
    return otp


def phone_otp_check(*, phone: str, code: str) -> errors.DomainError | None:
    """Consume the code if it matches; else count the attempt. Caller holds a transaction and must commit it
    even on failure (the attempt count must stick), so the error is returned rather than raised."""
    otp = PhoneOtp.objects.select_for_update().filter(phone=phone).first()
    if otp is None:
        return errors.OtpInvalid()
    if otp.is_expired(timezone.now()):
        return errors.OtpExpired()
    if otp.is_burned:
        return errors.OtpAttemptsExceeded()
    if constant_time_compare(otp.code_hash, _code_hash(phone=phone, code=code)):
        otp.delete()
        return None
    otp.attempts += 1
    otp.save(update_fields=["attempts"])
    if otp.is_burned:
        return errors.OtpAttemptsExceeded()
    return errors.OtpInvalid(attempts_left=PhoneOtp.MAX_ATTEMPTS - otp.attempts)


def _phone_release(*, phone: str, keep: User | None = None) -> None:
    """Take ``phone`` away from an account that only claimed it (registration, PATCH me) without proving it.

    Whoever just proved the number by SMS owns it. Leaving the claim in place would sign the SIM's owner in to
    the claimer's account (account pre-hijacking); so the claim goes, and the claimer keeps the rest.
    """
    claims = User.objects.select_for_update().filter(phone=phone, phone_verified_at__isnull=True)
    if keep is not None:
        claims = claims.exclude(pk=keep.pk)
    claims.update(phone="", updated_at=timezone.now())


def user_get_or_create_for_phone(*, phone: str) -> tuple[User, bool]:
    """The account that proved this number before, else a new rider account with no email and no password."""
    user = User.objects.select_for_update().filter(phone=phone, phone_verified_at__isnull=False).first()
    if user is not None:
        return user, False
    _phone_release(phone=phone)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=placeholder_email("phone"), password=None, phone=phone, phone_verified_at=timezone.now()
            )
            return user, True
    except IntegrityError:  # another request attached this number meanwhile
        user = User.objects.filter(phone=phone, phone_verified_at__isnull=False).first()
        if user is None:
            raise
        return user, False


def user_phone_attach(*, user: User, phone: str) -> User:
    """Make the proved ``phone`` the number of ``user``: 409 ``phone_taken`` if another account proved it."""
    if User.objects.filter(phone=phone, phone_verified_at__isnull=False).exclude(pk=user.pk).exists():
        raise errors.PhoneTaken()
    _phone_release(phone=phone, keep=user)
    locked = User.objects.select_for_update().get(pk=user.pk)
    locked.phone, locked.phone_verified_at = phone, timezone.now()
    users.user_save_unique(user=locked)  # a concurrent attach of the same number becomes 409, not 500
    return locked


def phone_otp_purge(*, grace: timedelta = timedelta(hours=1)) -> int:
    """Delete codes expired for longer than ``grace`` (until then a late guess still hears ``otp_expired``)."""
    deleted, _ = PhoneOtp.objects.filter(expires_at__lte=timezone.now() - grace).delete()
    return deleted
