"""Accounts and auth API: thin views, one per operation; the work is in accounts.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts import serializers as s
from accounts.auth import signed_in_user
from accounts.models import Notification
from accounts.services import auth, notifications, passwords, phone_otp, tokens, users
from accounts.throttles import AuthThrottle, PhoneThrottle
from core import idempotency
from core.pagination import CursorPagination
from core.schema import error_responses

TAG = ["auth"]


def _sign_in_body(sign_in: auth.SignIn) -> dict[str, Any]:
    return s.SignInOut({"user": sign_in.user, "tokens": sign_in.tokens, "created": sign_in.created}).data


class AnonymousAuthView(APIView):
    """Endpoints used before having a (valid) access token: no authentication, throttled per IP."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthThrottle]
    throttle_scope = "auth"


class RegisterView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.RegisterIn,
        summary="Create a rider account and sign in",
        responses={
            201: s.SignInOut,
            **error_responses(
                **{
                    "400": "validation_error",
                    "409": "email_taken, phone_taken",
                    "422": "password_too_weak",
                    "429": "throttled",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.RegisterIn(data=request.data)
        data.is_valid(raise_exception=True)
        return idempotency.no_store(
            Response(_sign_in_body(auth.auth_register(**data.validated_data)), status=status.HTTP_201_CREATED)
        )


class TokenObtainView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.TokenObtainIn,
        summary="Sign in with email and password",
        responses={
            200: s.SignInOut,
            **error_responses(**{"401": "invalid_credentials", "403": "account_blocked", "429": "throttled"}),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.TokenObtainIn(data=request.data)
        data.is_valid(raise_exception=True)
        return idempotency.no_store(Response(_sign_in_body(auth.auth_login(**data.validated_data))))


class TokenRefreshView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.TokenRefreshIn,
        summary="Rotate a refresh token into a new token pair",
        responses={200: s.TokenPairOut, **error_responses(**{"401": "token_not_valid", "403": "account_blocked"})},
    )
    def post(self, request: Request) -> Response:
        data = s.TokenRefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.token_refresh(raw=data.validated_data["refresh"])
        return idempotency.no_store(Response(s.TokenPairOut(pair).data))


class LogoutView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.LogoutIn,
        summary="Revoke a refresh token, or all of the account's",
        responses={200: s.LogoutOut, **error_responses(**{"401": "token_not_valid"})},
    )
    def post(self, request: Request) -> Response:
        data = s.LogoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        revoked = tokens.token_logout(
            raw=data.validated_data["refresh"], everywhere=data.validated_data["everywhere"]
        )
        return Response(s.LogoutOut({"revoked": revoked}).data)


class PasswordResetView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.PasswordResetIn,
        summary="Mail a password reset link (always 202)",
        responses={202: s.AcceptedOut, **error_responses(**{"400": "validation_error", "429": "throttled"})},
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_request(email=data.validated_data["email"])
        body = {"detail": "If this address belongs to an account, a reset link is on its way."}
        return Response(s.AcceptedOut(body).data, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(AnonymousAuthView):
    @extend_schema(
        tags=TAG,
        request=s.PasswordResetConfirmIn,
        summary="Set a new password with a reset link's uid and token",
        responses={204: None, **error_responses(**{"422": "reset_token_invalid, password_too_weak"})},
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetConfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneStartView(AnonymousAuthView):
    throttle_classes = [AuthThrottle, PhoneThrottle]
    throttle_scope = "otp"

    @extend_schema(
        tags=TAG,
        request=s.PhoneStartIn,
        summary="Send a one-time sign-in code by SMS",
        responses={202: s.AcceptedOut, **error_responses(**{"400": "validation_error", "429": "throttled"})},
    )
    def post(self, request: Request) -> Response:
        data = s.PhoneStartIn(data=request.data)
        data.is_valid(raise_exception=True)
        phone_otp.phone_otp_start(phone=data.validated_data["phone"])
        body = {"detail": f"A {phone_otp.OTP_DIGITS}-digit code was sent; it expires in 5 minutes."}
        return Response(s.AcceptedOut(body).data, status=status.HTTP_202_ACCEPTED)


class PhoneVerifyView(AnonymousAuthView):
    throttle_scope = "otp_verify"  # a budget of its own: guesses never use up the sending budget (PhoneThrottle)

    @extend_schema(
        tags=TAG,
        request=s.PhoneVerifyIn,
        summary="Exchange the SMS code for tokens (creates the account once)",
        responses={
            200: s.SignInOut,
            **error_responses(
                **{
                    "403": "account_blocked",
                    "429": "throttled",
                    "422": "otp_invalid, otp_expired, otp_attempts_exceeded",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.PhoneVerifyIn(data=request.data)
        data.is_valid(raise_exception=True)
        return idempotency.no_store(Response(_sign_in_body(auth.auth_phone_verify(**data.validated_data))))


class MeView(APIView):
    @extend_schema(tags=["me"], summary="The signed-in account, and what it still needs before a first ride",
                   responses={200: s.MeOut})
    def get(self, request: Request) -> Response:
        return Response(s.MeOut(signed_in_user(request)).data)

    @extend_schema(
        tags=["me"],
        request=s.MeUpdateIn,
        summary="Change name, email, phone or date of birth",
        responses={
            200: s.MeOut,
            **error_responses(**{"400": "validation_error", "409": "email_taken, phone_taken"}),
        },
    )
    def patch(self, request: Request) -> Response:
        data = s.MeUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = users.user_update(user=signed_in_user(request), changes=data.validated_data)  # type: ignore[arg-type]
        return Response(s.MeOut(user).data)

    @extend_schema(
        tags=["me"], summary="Delete the account (personal data is anonymised)", responses={204: None}
    )
    def delete(self, request: Request) -> Response:
        users.user_delete(user=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePhoneVerifyView(APIView):
    throttle_classes = [AuthThrottle]
    throttle_scope = "otp_verify"

    @extend_schema(
        tags=["me"],
        request=s.PhoneVerifyIn,
        summary="Prove a phone number with the code from auth/phone/start and make it the account's number",
        responses={
            200: s.UserOut,
            **error_responses(**{"409": "phone_taken", "422": "otp_invalid, otp_expired, otp_attempts_exceeded"}),
        },
    )
    def post(self, request: Request) -> Response:
        data = s.PhoneVerifyIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(s.UserOut(auth.auth_phone_attach(user=signed_in_user(request), **data.validated_data)).data)


class PasswordChangeView(APIView):
    throttle_classes = [AuthThrottle]
    throttle_scope = "auth"

    @extend_schema(
        tags=["me"],
        request=s.PasswordChangeIn,
        summary="Change the password; other sessions are signed out",
        responses={200: s.TokenPairOut, **error_responses(**{"422": "wrong_password, password_too_weak"})},
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        pair = passwords.password_change(user=signed_in_user(request), **data.validated_data)
        return idempotency.no_store(Response(s.TokenPairOut(pair).data))


class NotificationListView(generics.ListAPIView[Notification]):
    serializer_class = s.NotificationOut
    pagination_class = CursorPagination

    @extend_schema(tags=["me"], summary="Your notifications, newest first (cursor pagination)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return selectors.notifications_for(user=signed_in_user(self.request))


class NotificationReadView(APIView):
    @extend_schema(tags=["me"], request=None, summary="Mark one of your notifications read",
                   responses={200: s.NotificationOut, **error_responses(**{"404": "notification_not_found"})})
    def post(self, request: Request, notification_id: Any) -> Response:
        found = notifications.notification_mark_read(user=signed_in_user(request), notification_id=notification_id)
        return Response(s.NotificationOut(found).data)
