"""Sign-in workflows that end in a token pair: register, password login, phone code, password change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from accounts import auth, errors, selectors
from accounts.models import User
from accounts.services import phone_otp, tokens, users


@dataclass(frozen=True)
class SignIn:
    user: User
    tokens: tokens.TokenPair
    created: bool = False


@transaction.atomic
def auth_register(*, email: str, password: str, name: str, date_of_birth: dt.date, phone: str = "") -> SignIn:
    user = users.user_register(
        email=email, password=password, name=name, date_of_birth=date_of_birth, phone=phone
    )
    return SignIn(user=user, tokens=tokens.token_pair_issue(user=user), created=True)


@transaction.atomic
def auth_login(*, email: str, password: str) -> SignIn:
    user = selectors.user_get_by_email(email=email)
    if user is None:
        User().set_password(password)  # the same hashing work as a real check: response time tells nothing
        raise errors.InvalidCredentials()
    if not user.check_password(password) or user.status == User.Status.DELETED:
        raise errors.InvalidCredentials()
    auth.user_ensure_may_authenticate(user)  # blocked -> 403 with the reason, only after a correct password
    return SignIn(user=user, tokens=tokens.token_pair_issue(user=user))


def auth_phone_verify(*, phone: str, code: str) -> SignIn:
    """Exchange a phone code for tokens; the first sign-in of a number creates a rider account."""
    with transaction.atomic():
        failure = phone_otp.phone_otp_check(phone=phone, code=code)
        if failure is None:
            user, created = phone_otp.user_get_or_create_for_phone(phone=phone)
            auth.user_ensure_may_authenticate(user)
            return SignIn(user=user, tokens=tokens.token_pair_issue(user=user), created=created)
    raise failure  # outside the block: the counted attempt is committed


def auth_phone_attach(*, user: User, phone: str, code: str) -> User:
    """A signed-in account proves a phone number with an SMS code and takes it as its own (verified) number."""
    with transaction.atomic():
        if User.objects.filter(phone=phone, phone_verified_at__isnull=False).exclude(pk=user.pk).exists():
            raise errors.PhoneTaken()  # checked first: the code stays usable
        failure = phone_otp.phone_otp_check(phone=phone, code=code)
        if failure is None:
            return phone_otp.user_phone_attach(user=user, phone=phone)
    raise failure  # outside the block: the counted attempt is committed
