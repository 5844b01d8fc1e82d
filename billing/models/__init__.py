"""Billing models, one module per concern; import them from here (``from billing.models import Payment``)."""

from billing.models.ledger import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from billing.models.passes import PassProduct, PassUse, PromoCode, PromoRedemption, RiderPass
from billing.models.payments import Payment, PaymentCustomer, PaymentMethod, RideBilling, WebhookEvent
from billing.models.reconcile import ReconcileRun
from billing.models.refunds import Refund
from billing.models.tariffs import ReservationMode, Tariff
from billing.models.testpsp import TestPspCall, TestPspEvent, TestPspIntent

__all__ = [
    "AccountKind",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "PassProduct",
    "PassUse",
    "Payment",
    "PaymentCustomer",
    "PaymentMethod",
    "PromoCode",
    "PromoRedemption",
    "ReconcileRun",
    "Refund",
    "ReservationMode",
    "RiderPass",
    "RideBilling",
    "Tariff",
    "TestPspCall",
    "TestPspEvent",
    "TestPspIntent",
    "WebhookEvent",
]
