"""Writes to user accounts: registration, profile changes, blocking, deletion (anonymisation)."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import errors, signals
from accounts.models import Device, PhoneOtp, User, placeholder_email
from accounts.services import tokens
from core import audit


class UserChanges(TypedDict, total=False):
    email: str
    name: str
    phone: str
    date_of_birth: dt.date | None


def email_normalize(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def password_check(*, password: str, user: User) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS; their messages go to the client in ``details.messages``."""
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise errors.PasswordTooWeak(messages=list(exc.messages)) from exc


def _constraint_error(exc: IntegrityError) -> errors.EmailTaken | errors.PhoneTaken | None:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
    if "email" in constraint:
        return errors.EmailTaken()
    if "phone" in constraint:
        return errors.PhoneTaken()
    return None


def user_save_unique(*, user: User) -> None:
    """Save; a unique-constraint race (same email or phone committed meanwhile) becomes 409, not 500."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        error = _constraint_error(exc)
        if error is None:
            raise
        raise error from exc


def _ensure_free(*, user: User) -> None:
    others = User.objects.exclude(pk=user.pk)
    if others.filter(email__iexact=user.email).exists():
        raise errors.EmailTaken()
    if user.phone and others.filter(phone=user.phone).exists():
        raise errors.PhoneTaken()


@transaction.atomic
def user_register(*, email: str, password: str, name: str, date_of_birth: dt.date, phone: str = "") -> User:
    user = User(email=email_normalize(email), name=name, phone=phone, date_of_birth=date_of_birth)
    _ensure_free(user=user)
    password_check(password=password, user=user)
    user.set_password(password)
    user_save_unique(user=user)
    return user


@transaction.atomic
def user_update(*, user: User, changes: UserChanges) -> User:
    locked = User.objects.select_for_update().get(pk=user.pk)
    if "email" in changes:
        locked.email = email_normalize(changes["email"])
    if "phone" in changes and changes["phone"] != locked.phone:
        locked.phone, locked.phone_verified_at = changes["phone"], None  # a new number is only a claim
    for field in ("name", "date_of_birth"):
        if field in changes:
            setattr(locked, field, changes[field])  # type: ignore[literal-required]
    _ensure_free(user=locked)
    user_save_unique(user=locked)
    return locked


@transaction.atomic
def user_block(*, user: User, reason: str, actor: User | None = None) -> User:
    """Block: sign-in, refresh and every API request answer 403 ``account_blocked``; /admin/ refuses too.
    ``actor``: the staff member doing it (recorded in the audit log)."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.status == User.Status.DELETED:
        return locked
    before = {"status": locked.status, "blocked_reason": locked.blocked_reason, "is_active": locked.is_active}
    locked.status, locked.blocked_reason, locked.is_active = User.Status.BLOCKED, reason, False
    locked.save(update_fields=["status", "blocked_reason", "is_active", "updated_at"])
    after = {"status": locked.status, "blocked_reason": reason, "is_active": False}
    audit.audit_staff_action(actor=actor, action="accounts.block", obj=locked, reason=reason,
                             before={k: v for k, v in before.items() if after[k] != v},
                             after={k: v for k, v in after.items() if before[k] != v})
    return locked


@transaction.atomic
def user_unblock(*, user: User, actor: User | None = None) -> User:
    """Unblock; ``actor``, the staff member doing it, may not unblock their own account (403
    ``self_action_forbidden``). The admin records who did it in the object's history."""
    if actor is not None and actor.pk == user.pk:
        raise errors.SelfActionForbidden()
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.status != User.Status.BLOCKED:
        return locked
    before = {"status": locked.status, "blocked_reason": locked.blocked_reason, "is_active": locked.is_active}
    locked.status, locked.blocked_reason, locked.is_active = User.Status.ACTIVE, "", True
    locked.save(update_fields=["status", "blocked_reason", "is_active", "updated_at"])
    audit.audit_staff_action(actor=actor, action="accounts.unblock", obj=locked, before=before,
                             after={"status": locked.status, "blocked_reason": "", "is_active": True})
    return locked


@transaction.atomic
def user_delete(*, user: User) -> User:
    """Anonymise the account but keep the row, so rides, payments and ledger entries keep their foreign key.

    Idempotent: deleting a deleted account changes nothing.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.status == User.Status.DELETED:
        return locked
    signals.user_deleting.send(sender=User, user=locked)
    if locked.phone:
        PhoneOtp.objects.filter(phone=locked.phone).delete()
    locked.email, locked.name, locked.phone, locked.date_of_birth = placeholder_email("deleted"), "", "", None
    locked.phone_verified_at = None
    locked.set_unusable_password()
    locked.status, locked.is_active, locked.is_staff, locked.is_superuser = (
        User.Status.DELETED,
        False,
        False,
        False,
    )
    locked.save()
    locked.groups.clear()
    locked.user_permissions.clear()
    tokens.tokens_revoke_all(user=locked)
    Device.objects.filter(user=locked).delete()  # no more pushes to the phones of a deleted account
    return locked
