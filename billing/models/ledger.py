"""Double-entry ledger.

Sign convention: an entry's ``amount`` is positive for a debit and negative for a credit, so every transaction
sums to zero per currency. PostgreSQL enforces that at commit with a deferred constraint trigger, and refuses
UPDATE/DELETE of entries (migration 0002). Liability accounts (a rider's wallet) therefore carry a negative
balance when the rider has money; selectors present them with the rider's sign.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class AccountKind(models.TextChoices):
    RIDER_CASH = "rider_cash", "Rider wallet, cash (liability)"
    RIDER_BONUS = "rider_bonus", "Rider wallet, bonus credit (liability)"
    RIDER_RECEIVABLE = "rider_receivable", "Rider receivable, i.e. debt (asset)"
    PSP_CLEARING = "psp_clearing", "Payment provider clearing (asset)"
    REVENUE = "revenue", "Ride revenue per city, net of VAT (income)"
    VAT_PAYABLE = "vat_payable", "VAT payable per city (liability)"
    PROMOTIONS = "promotions", "Promotion and referral credit granted (expense)"
    GOODWILL = "goodwill", "Goodwill credit granted by support (expense)"
    REFUNDS = "refunds", "Refunds of ride revenue (contra-income)"
    CHARGEBACKS = "chargebacks", "Disputed payments lost (expense)"


# Rider liabilities may never be overdrawn: a rider's cash/bonus balance (credit-negative) stays <= 0.
RIDER_WALLET_KINDS = (AccountKind.RIDER_CASH, AccountKind.RIDER_BONUS)


class LedgerAccount(models.Model):
    """An account in one currency. ``balance`` is a cache of the sum of its entries (see billing_reconcile)."""

    code = models.CharField(max_length=128, unique=True, help_text="e.g. rider_cash:<user id>:EUR")
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    city = models.ForeignKey("fleet.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Target of the composite foreign key from entries: an entry's currency is its account's.
            models.UniqueConstraint(fields=["id", "currency"], name="ledgeraccount_id_currency"),
            models.CheckConstraint(
                condition=~models.Q(kind__in=RIDER_WALLET_KINDS) | models.Q(balance__lte=0),
                name="ledgeraccount_wallet_not_overdrawn",
            ),
        ]
        # The admin's filter by currency: its values are read by a loose index scan (one account per rider).
        indexes = [models.Index(fields=["currency"], name="ledgeraccount_currency")]

    def __str__(self) -> str:
        return self.code

    @property
    def debit_balance(self) -> Decimal | None:
        """The balance when it is a debit (an asset, an expense: money owed to us or spent), as a positive amount."""
        return self.balance if self.balance > 0 else None

    @property
    def credit_balance(self) -> Decimal | None:
        """The balance when it is a credit (revenue, VAT owed, a rider's wallet), as a positive amount."""
        return -self.balance if self.balance < 0 else None


class LedgerTransaction(models.Model):
    """One balanced movement of money. ``idempotency_key`` makes a retried post a no-op."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, help_text="top_up, ride_charge, refund, bonus, debt_settlement, ...")
    idempotency_key = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ride_id = models.UUIDField(null=True, blank=True, db_index=True)
    payment = models.ForeignKey("billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The staff member who made this posting (goodwill, refund); empty for riders' and system postings",
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The admin's filter by kind (values read by a loose index scan), newest first.
        indexes = [models.Index(fields=["kind", "-created_at"], name="ledgertransaction_kind_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class LedgerEntry(models.Model):
    """Immutable: the database refuses UPDATE and DELETE (trigger in migration 0002)."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4, help_text="debit > 0, credit < 0")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledgerentry_amount_not_zero")]
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="ledgerentry_account_recent")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.currency}"

    @property
    def debit(self) -> Decimal | None:
        return self.amount if self.amount > 0 else None

    @property
    def credit(self) -> Decimal | None:
        """A credit as a positive amount (stored negative)."""
        return -self.amount if self.amount < 0 else None
