"""Password change and reset (Django's default_token_generator, mail through Django's mail API)."""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import errors, selectors, tasks
from accounts.models import User
from accounts.services import tokens, users

logger = logging.getLogger(__name__)


def _password_set(*, user: User, new_password: str) -> None:
    """Set, then revoke every refresh token: whoever knew the old password loses their sessions."""
    users.password_check(password=new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    tokens.tokens_revoke_all(user=user)


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str) -> tokens.TokenPair:
    """Change the password; returns a fresh token pair since all earlier refresh tokens are revoked.

    An account without a usable password (phone sign-in) may set one without ``old_password``.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.has_usable_password() and not locked.check_password(old_password):
        raise errors.WrongPassword()
    _password_set(user=locked, new_password=new_password)
    return tokens.token_pair_issue(user=locked)


def password_reset_request(*, email: str) -> None:
    """Queue the reset mail for ``email``, whether or not it has an account (always 202).

    The request does the same work either way: no lookup and no mail in it, so neither its answer nor its time
    tells whether the account exists. ``password_reset_send`` decides in a Celery task."""
    transaction.on_commit(partial(tasks.password_reset_send.delay, email))


def password_reset_send(*, email: str) -> bool:
    """Mail a reset link if ``email`` belongs to an active account with a real address; returns whether it did."""
    user = selectors.user_get_by_email(email=email)
    if user is None or not user.has_real_email or user.status != User.Status.ACTIVE:
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.PASSWORD_RESET_URL.format(uid=uid, token=token)
    body = (
        f"Hello {user.name or ''},\n\nsomeone asked to reset the password of your Freewheel account.\n"
        f"Open this link to choose a new one: {link}\n\nCode for the app: uid={uid} token={token}\n\n"
        "If it was not you, ignore this message: your password stays as it is."
    )
    send_mail("Reset your Freewheel password", body, None, [user.email])
    return True


def _user_from_uid(uid: str) -> User:
    try:
        pk = force_str(urlsafe_base64_decode(uid))
        user = User.objects.select_for_update().filter(pk=pk).first()
    except (ValueError, TypeError, OverflowError, ValidationError):  # bad base64, or not a UUID
        user = None
    if user is None or user.status == User.Status.DELETED:
        raise errors.ResetTokenInvalid()
    return user


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Single use: the token is bound to the password hash, which changes here."""
    user = _user_from_uid(uid)
    if not default_token_generator.check_token(user, token):
        raise errors.ResetTokenInvalid()
    _password_set(user=user, new_password=new_password)
    return user
