"""Domain errors of accounts and auth; codes are stable, clients branch on them."""

from __future__ import annotations

from core.errors import DomainError
from core.errors import SelfActionForbidden as SelfActionForbidden  # shared with billing (credit, refund)


class EmailTaken(DomainError):
    code, status, message = "email_taken", 409, "An account with this email address already exists."


class PhoneTaken(DomainError):
    code, status, message = "phone_taken", 409, "An account with this phone number already exists."


class PasswordTooWeak(DomainError):
    code, status, message = "password_too_weak", 422, "The password is too weak."


class WrongPassword(DomainError):
    code, status, message = "wrong_password", 422, "The current password is not correct."


class InvalidCredentials(DomainError):
    code, status, message = "invalid_credentials", 401, "Email or password is not correct."


class AccountBlocked(DomainError):
    code, status, message = "account_blocked", 403, "This account is blocked."


class AccountInactive(DomainError):
    code, status, message = "account_inactive", 401, "This account is no longer active."


class TokenNotValid(DomainError):
    code, status, message = "token_not_valid", 401, "The token is invalid, expired or revoked."


class ResetTokenInvalid(DomainError):
    code, status, message = "reset_token_invalid", 422, "The password reset link is invalid or has expired."


class OtpInvalid(DomainError):
    code, status, message = "otp_invalid", 422, "The code is not correct."


class OtpExpired(DomainError):
    code, status, message = "otp_expired", 422, "The code has expired; request a new one."


class OtpAttemptsExceeded(DomainError):
    code, status, message = "otp_attempts_exceeded", 422, "Too many wrong codes; request a new one."


class NotificationNotFound(DomainError):
    code, status, message = "notification_not_found", 404, "No such notification."


class NotificationCategoryRequired(DomainError):
    code, status, message = ("notification_category_required", 422,
                             "This category of notifications cannot be switched off.")
