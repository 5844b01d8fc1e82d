"""Billing permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``).

``billing.refund`` is the finance role's; support may grant goodwill credit up to BILLING_STAFF_APPROVAL_LIMIT
(``billing.approve_large_credit``, finance, lifts the limit); everyone on staff may read.
"""

from __future__ import annotations

_READ = [
    "billing.view_tariff", "billing.view_payment", "billing.view_ridebilling", "billing.view_refund",
    "billing.view_passproduct", "billing.view_promocode",
]
_LEDGER = ["billing.view_ledgeraccount", "billing.view_ledgertransaction", "billing.view_ledgerentry",
           "billing.view_webhookevent", "billing.view_reconcilerun"]
_FINANCE = ["billing.refund", "billing.grant_goodwill", "billing.approve_large_credit", "billing.add_promocode",
            "billing.change_promocode", "billing.add_passproduct", "billing.change_passproduct"]
_TARIFFS = ["billing.add_tariff", "billing.change_tariff"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "support_agent": [*_READ, "billing.grant_goodwill"],
    "fleet_manager": [*_READ, *_TARIFFS],
    "finance": [*_READ, *_LEDGER, *_FINANCE],
    "admin": [*_READ, *_LEDGER, *_FINANCE, *_TARIFFS],
}
