"""JWT pairs (simplejwt): issue, rotate, revoke.

Refresh tokens are recorded as simplejwt ``OutstandingToken`` rows, each in the family of the sign-in it descends
from (``RefreshTokenFamily``), and revoked by blacklisting them; access tokens are short-lived (SIMPLE_JWT
ACCESS_TOKEN_LIFETIME) and checked against the account's status on every request.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from accounts import auth, errors
from accounts.models import RefreshTokenFamily, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def token_pair_issue(*, user: User, sign_in: bool = True, family: uuid.UUID | None = None) -> TokenPair:
    """A new pair. ``sign_in`` records ``last_login`` (which also voids outstanding password reset links, as
    Django intends); a rotation is not a sign-in, or a phone refreshing every 15 minutes would void them.

    The refresh token joins ``family`` (a rotation passes its token's) or starts a new one (a sign-in)."""
    refresh = RefreshToken.for_user(user)  # also records the OutstandingToken row
    row = OutstandingToken.objects.only("pk").get(jti=refresh[api_settings.JTI_CLAIM])
    RefreshTokenFamily.objects.create(token=row, family=family or uuid.uuid4())
    if sign_in and api_settings.UPDATE_LAST_LOGIN:
        update_last_login(User, user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _refresh_parse(raw: str) -> RefreshToken:
    """Signature, type, expiry and blacklist checked; any failure is the one ``token_not_valid``."""
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise errors.TokenNotValid() from exc


def _outstanding_lock(token: RefreshToken) -> OutstandingToken:
    row = (
        OutstandingToken.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(jti=token[api_settings.JTI_CLAIM])
        .first()
    )
    if row is None or row.user is None or BlacklistedToken.objects.filter(token=row).exists():
        raise errors.TokenNotValid()
    return row


def _refresh_parse_unrevoked_or_not(raw: str) -> UntypedToken:
    """Signature, expiry and type checked, but not the blacklist: a revoked token is told apart from garbage."""
    try:
        token = UntypedToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise errors.TokenNotValid() from exc
    if token.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise errors.TokenNotValid()
    return token


def token_refresh(*, raw: str) -> TokenPair:
    """Rotate: the presented refresh token is blacklisted and a new pair issued, in the token's family.

    The row lock makes a refresh token single-use even under concurrency: of two requests with the same token,
    the second waits, then finds it blacklisted (simplejwt's own serializer would let both succeed).
    A token that is already revoked is reuse: one of its holders is not the rider (a stolen copy, or the
    original after a thief rotated it), and nobody can tell which, so the whole family is revoked, committed
    before the refusal (RFC 9700, 4.14.2). Concurrent refreshes with one token are reuse too.
    """
    token = _refresh_parse_unrevoked_or_not(raw)
    with transaction.atomic():
        row = (OutstandingToken.objects.select_for_update(of=("self",)).select_related("user", "family")
               .filter(jti=token[api_settings.JTI_CLAIM]).first())
        if row is None or row.user is None:
            raise errors.TokenNotValid()
        reused = BlacklistedToken.objects.filter(token=row).exists()
        if not reused:
            auth.user_ensure_may_authenticate(row.user)
            BlacklistedToken.objects.create(token=row)
            family = getattr(row, "family", None)
            return token_pair_issue(user=row.user, sign_in=False, family=family.family if family else None)
    revoked = tokens_revoke_family(token=row)
    logger.warning("refresh token reuse for user %s: %d token(s) of its family revoked", row.user_id, revoked)
    raise errors.TokenNotValid()


def tokens_revoke_family(*, token: OutstandingToken) -> int:
    """Blacklist every live refresh token of ``token``'s family (of its user, for a token older than families)."""
    live = OutstandingToken.objects.filter(expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    family = RefreshTokenFamily.objects.filter(token=token).values_list("family", flat=True).first()
    live = live.filter(family__family=family) if family else live.filter(user=token.user)
    rows = [BlacklistedToken(token=row) for row in live]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def token_logout(*, raw: str, everywhere: bool = False) -> int:
    """Revoke the presented refresh token, or with ``everywhere`` every live one of its user; returns how many."""
    row = _outstanding_lock(_refresh_parse(raw))
    if everywhere:
        assert row.user is not None
        return tokens_revoke_all(user=row.user)
    BlacklistedToken.objects.create(token=row)
    return 1


def tokens_revoke_all(*, user: User) -> int:
    """Blacklist every unexpired, not yet blacklisted refresh token of ``user``; returns how many."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    rows = [BlacklistedToken(token=token) for token in live]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent revoke may win some rows
    return len(rows)


def tokens_flush_expired() -> int:
    """Delete refresh-token records past their expiry (their blacklist rows cascade): they can never verify again."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
