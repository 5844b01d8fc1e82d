"""What ``GET /me`` lists as still needed before a first ride: exactly the rider-side refusals of a ride start.

``ride_start`` and ``reservation_create`` refuse a rider (not a vehicle) for:

- ``outstanding_debt`` and ``payment_method_required``: billing's money gate (``check_money``), per currency: a
  rider may owe in one city's currency and not in another's;
- ``date_of_birth_required``: a vehicle type with a minimum age and no date of birth (``check_vehicle``).

Not listed, because they are not missing data a rider can add: ``rider_too_young`` (the age is known and too low for
some types only), ``rider_not_active`` (a blocked account cannot sign in: 403 ``account_blocked``), and anything
about the vehicle. A verified phone is not listed either: no start or reservation asks for one.
Registered with ``accounts.requirements`` in ``RidesConfig.ready``.
"""

from __future__ import annotations

from django.urls import reverse

from accounts.models import User
from accounts.requirements import Requirement, RequirementAction
from billing import errors as billing_errors
from billing.selectors import wallet as wallet_selectors
from core.money import money
from fleet import selectors as fleet_selectors
from rides import errors


def ride_requirements(rider: User) -> list[Requirement]:
    """The requirements ``rider`` does not meet yet, in the order a start checks them (money, then age)."""
    return [*_money(rider), *_date_of_birth(rider)]


def _money(rider: User) -> list[Requirement]:
    currencies = fleet_selectors.city_currencies()
    if not currencies:
        return []  # no city, nothing to ride: no need to read the card
    method = wallet_selectors.payment_method_default(user=rider)
    gates = [wallet_selectors.RiderMoney(balance=wallet_selectors.wallet_balance(user=rider, currency=currency),
                                         method=method)
             for currency in currencies]
    found = []
    owed = [money(gate.balance.debt, gate.balance.currency) for gate in gates if gate.refusal == "outstanding_debt"]
    if owed:
        found.append(Requirement(
            code=billing_errors.OutstandingDebt.code, message=billing_errors.OutstandingDebt.message,
            action=RequirementAction(method="POST", path=reverse("billing-wallet-settle")), details={"owed": owed}))
    unpaid = [gate.balance.currency for gate in gates if gate.refusal == "payment_method_required"]
    if unpaid:
        found.append(Requirement(
            code=billing_errors.NoPaymentMethod.code, message=billing_errors.NoPaymentMethod.message,
            action=RequirementAction(method="POST", path=reverse("billing-payment-methods")),
            details={"currencies": unpaid}))
    return found


def _date_of_birth(rider: User) -> list[Requirement]:
    if rider.date_of_birth is not None:
        return []
    ages = fleet_selectors.vehicle_type_min_ages()
    if not ages:
        return []
    return [Requirement(
        code=errors.RiderBirthDateMissing.code, message=errors.RiderBirthDateMissing.message,
        action=RequirementAction(method="PATCH", path=reverse("me"), body_fields=("date_of_birth",)),
        details={"vehicle_types": [{"code": code, "min_rider_age": age} for code, age in ages.items()]})]
