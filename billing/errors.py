"""Billing domain errors: each has a stable ``code`` a client can branch on and an HTTP ``status``."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, RuleViolation
from core.errors import SelfActionForbidden as SelfActionForbidden  # shared with accounts (unblock)


class AmountInvalid(RuleViolation):
    code, message = "amount_invalid", "The amount must be positive and within the allowed range."


class CurrencyMismatch(RuleViolation):
    code, message = "currency_mismatch", "The currency does not match the account's currency."


class LedgerUnbalanced(DomainError):
    """A programming error: a service tried to post lines that do not sum to zero."""

    code, status, message = "ledger_unbalanced", 500, "Ledger lines do not balance."


class IdempotencyKeyConflict(Conflict):
    code, message = "idempotency_key_conflict", "This key was already used for a different ledger posting."


class InsufficientFunds(RuleViolation):
    code, message = "insufficient_funds", "The wallet balance is too low for this."


class OutstandingDebt(RuleViolation):
    code, message = "outstanding_debt", "An unpaid balance must be settled first."


class NoPaymentMethod(RuleViolation):
    code, message = "payment_method_required", "Add a payment method or top up the wallet first."


class NothingToSettle(Conflict):
    code, message = "nothing_to_settle", "There is no outstanding balance to settle."


class SettlementInProgress(Conflict):
    code, message = "settlement_in_progress", "A payment of the outstanding balance is already under way."


class SettlementCurrencyRequired(RuleViolation):
    code, message = "settlement_currency_required", "Balances are owed in several currencies: name one."


class PaymentMethodNotFound(NotFound):
    code, message = "payment_method_not_found", "Payment method not found."


class PaymentMethodInvalid(RuleViolation):
    code, message = "payment_method_invalid", "The payment method was refused by the provider."


class PaymentDeclined(RuleViolation):
    code, message = "payment_declined", "The payment was declined."


class PaymentInsufficientFunds(RuleViolation):
    code, message = "card_insufficient_funds", "The card has insufficient funds."


class PaymentProviderUnavailable(DomainError):
    code, status, message = "payment_provider_unavailable", 503, "The payment provider did not answer; try again."


class RideBillingNotFound(NotFound):
    code, message = "ride_billing_not_found", "No payment is held for this ride."


class RideBillingExists(Conflict):
    code, message = "ride_billing_exists", "A hold for this ride was already placed."


class RideBillingState(Conflict):
    code, message = "ride_billing_state", "The ride's payment is not in a state that allows this."


class WebhookSignatureInvalid(DomainError):
    code, status, message = "webhook_signature_invalid", 400, "The webhook signature is invalid."


class ProviderUnknown(NotFound):
    code, message = "provider_unknown", "Unknown payment provider."


class PaymentActionRequired(RuleViolation):
    code, message = "payment_action_required", "The card needs the rider's confirmation (3-D Secure)."


class TariffInvalid(RuleViolation):
    code, message = "tariff_invalid", "The tariff is not valid."


class TariffNotFound(NotFound):
    code, message = "tariff_not_found", "No tariff for this city and vehicle type."


class PassProductNotFound(NotFound):
    code, message = "pass_product_not_found", "No such pass on sale."


class PassNotValidHere(RuleViolation):
    code, message = "pass_not_valid_here", "This pass is sold for another city or currency."


class PromoCodeUnknown(NotFound):
    code, message = "promo_code_unknown", "This promo code does not exist."


class PromoCodeExpired(RuleViolation):
    code, message = "promo_code_expired", "This promo code is not valid now."


class PromoCodeExhausted(RuleViolation):
    code, message = "promo_code_exhausted", "This promo code has been used up."


class PromoCodeAlreadyUsed(RuleViolation):
    code, message = "promo_code_already_used", "You have already used this promo code."


class PromoCodeOwn(RuleViolation):
    code, message = "promo_code_own_referral", "You cannot redeem your own referral code."


class RefundExceedsCharge(RuleViolation):
    code, message = "refund_exceeds_charge", "The refund is larger than what is left to refund on this ride."


class RefundFailed(DomainError):
    code, status, message = "refund_failed", 502, "The payment provider refused the refund."


class FinanceRoleRequired(DomainError):
    code, status = "finance_role_required", 403
    message = "Amounts above the staff approval limit (BILLING_STAFF_APPROVAL_LIMIT) need the finance role."


class RideNotCharged(Conflict):
    code, message = "ride_not_charged", "This ride has not been charged."
