"""Receipts: the itemised fare a ride was charged, how it was paid, VAT, and any refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import Notification, User
from billing import errors
from billing.models import Refund, RideBilling
from billing.selectors import rides as ride_selectors
from core import audit
from core.money import money


def receipt_for_ride(ride_id: UUID) -> dict[str, Any]:
    """JSON-ready receipt of a charged ride (``ride_not_charged`` before the end, ``ride_billing_not_found``)."""
    billing = RideBilling.objects.filter(ride_id=ride_id).select_related("user").first()
    if billing is None:
        raise errors.RideBillingNotFound()
    if billing.status != RideBilling.Status.CHARGED or billing.fare is None:
        raise errors.RideNotCharged()
    fare, c = billing.fare, billing.currency
    paid = ride_selectors.ride_paid(ride_id=ride_id)
    refunds = Refund.objects.filter(ride_id=ride_id, status=Refund.Status.SUCCEEDED).order_by("created_at")
    return {
        "ride_id": str(ride_id),
        "rider": billing.user.contact_label,  # never a phone account's placeholder address
        "currency": c,
        "charged_at": billing.charged_at.isoformat() if billing.charged_at else None,
        "lines": [{"kind": line["kind"], "description": line["description"], "quantity": line["quantity"],
                   "unit_price": line["unit_price"] and money(_d(line["unit_price"]), c),
                   "amount": money(_d(line["amount"]), c)} for line in fare["lines"]],
        "subtotal": money(_d(fare["subtotal"]), c),
        "discounts": money(_d(fare["discounts"]), c),
        "total": money(_d(fare["total"]), c),
        "vat_rate": fare["vat_rate"],
        "vat": money(_d(fare["vat_amount"]), c),
        "net": money(_d(fare["net_amount"]), c),
        "paid": {"wallet": money(paid.wallet, c), "card": money(paid.card, c), "outstanding": money(paid.outstanding, c)},
        "refunds": [{"amount": money(r.amount, c), "reason": r.reason, "at": r.created_at.isoformat()}
                    for r in refunds],
    }


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


@transaction.atomic
def receipt_resend(*, ride_id: UUID, actor: User | None = None) -> Notification:
    """Send the rider their ride's receipt again (support's "resend receipt"): a ``ride_receipt`` notification
    with the total and the receipt's API path, to the app's inbox and the phone. Errors as ``receipt_for_ride``.
    ``actor``: the staff member asking (recorded in the audit log)."""
    receipt = receipt_for_ride(ride_id)
    billing = RideBilling.objects.only("user_id").get(ride_id=ride_id)
    total = receipt["total"]
    notification = account_services.notify(
        user_id=billing.user_id, kind="ride_receipt", title=_("Your ride receipt"),
        body=format_lazy(_("Your ride cost {amount} {currency}. The itemised receipt is in the app."),
                         amount=total["amount"], currency=total["currency"]),
        data={"ride_id": str(ride_id), "receipt": f"/api/v1/billing/rides/{ride_id}/receipt"})
    audit.audit_staff_action(actor=actor, action="billing.receipt_resend", object_type_label="rides.ride",
                             object_id=ride_id, object_repr=f"ride {ride_id}",
                             after={"rider": str(billing.user_id), "notification": str(notification.pk)})
    return notification
