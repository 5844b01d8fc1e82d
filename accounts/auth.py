"""Authentication of API requests: simplejwt access tokens, refused for blocked and deleted accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

    from accounts.models import User


def user_authentication_rule(user: Any) -> bool:
    """simplejwt hook: only active, non-deleted accounts may authenticate; blocked ones get a clear error."""
    return user is not None and user.is_active and user.status == "active"


def user_ensure_may_authenticate(user: Any) -> None:
    """Raise ``AccountBlocked`` (403, with the reason) or ``AccountInactive`` (401) unless the user may sign in."""
    # Imported here: DRF imports this module while rest_framework.views is half-initialised (it reads
    # DEFAULT_AUTHENTICATION_CLASSES), and accounts.errors -> core.errors imports rest_framework.views.
    from accounts import errors

    if user.status == "blocked":
        raise errors.AccountBlocked(reason=user.blocked_reason)
    if not user_authentication_rule(user):
        raise errors.AccountInactive()


def signed_in_user(request: Request) -> User:
    """The account behind an authenticated request, typed as ``User``; ``NotAuthenticated`` (401) for anonymous.

    For views behind ``IsAuthenticated`` (the default) or ``HasPerm``, where the anonymous case cannot reach the
    view; raising rather than asserting keeps that true if a view's permissions change.
    """
    # Imported here, like accounts.errors above: DRF imports this module early.
    from accounts.models import User

    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def admin_user(request: HttpRequest) -> User:
    """The staff account behind an admin request, typed as ``User``; ``PermissionDenied`` (403) otherwise.

    The admin site lets only signed-in staff reach a ``ModelAdmin``, so the check cannot fail there: it stands in
    for a ``request.user`` that django-stubs types as a user or ``AnonymousUser``.
    """
    from accounts.models import User

    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied()
    return user


class JWTAuthentication(authentication.JWTAuthentication):
    """The API's default authentication: a valid access token of an account that is still active.

    Access tokens live 15 minutes and are not looked up in the blacklist, so blocking or deleting an account
    takes effect here, on every request, rather than when its tokens expire.
    """

    def authenticate(self, request: Any) -> Any:
        # The Idempotency-Key middleware authenticates a POST before the view does; both wrap the same
        # HttpRequest, so a success is kept on it and the view does not decode the token and load the user twice.
        raw = getattr(request, "_request", request)
        cached = getattr(raw, "_freewheel_auth", None)
        if cached is not None:
            return cached
        result = super().authenticate(request)
        if result is not None:
            raw._freewheel_auth = result
        return result

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:
            raise InvalidToken("The token's user does not exist")
        user_ensure_may_authenticate(user)
        _ensure_password_unchanged(validated_token, user)
        return user


def _ensure_password_unchanged(validated_token: Token, user: Any) -> None:
    """SIMPLE_JWT CHECK_REVOKE_TOKEN: tokens carry a digest of the password hash, so a password change or reset
    also ends access tokens already handed out, not only refresh tokens."""
    if not api_settings.CHECK_REVOKE_TOKEN:
        return
    if validated_token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise AuthenticationFailed(
            {"detail": "The password has changed; sign in again.", "code": "password_changed"}
        )
