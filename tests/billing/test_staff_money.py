"""Staff money actions (docs/security.md "Staff money actions"): never to oneself, always recorded with the actor,
above BILLING_STAFF_APPROVAL_LIMIT only with the finance role."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from accounts import errors as account_errors
from accounts.models import User
from accounts.services import roles, users
from billing import selectors
from billing.models import LedgerTransaction, PromoCode, PromoRedemption, Refund, RideBilling
from billing.services import rides
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db
GOODWILL = "/api/v1/billing/goodwill"


@pytest.fixture(autouse=True)
def _limit(settings: Any) -> None:
    settings.BILLING_STAFF_APPROVAL_LIMIT = Decimal("50.00")  # the documented default, explicitly


def _staff(role: str, **fields: Any) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


def _goodwill(api: Any, actor: Any, user: Any, amount: str) -> Any:
    return api.as_(actor).post(GOODWILL, {"user": str(user.pk), "reason": "sorry",
                                          "amount": {"amount": amount, "currency": "EUR"}}, format="json")


def _charged_ride(rider: Any, total: str = "90.00") -> RideBilling:
    add_card(rider)
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("100.00"), currency="EUR")
    return rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of(total))


def _refund(api: Any, actor: Any, ride_id: Any, amount: str) -> Any:
    return api.as_(actor).post(f"/api/v1/billing/rides/{ride_id}/refunds",
                               {"amount": {"amount": amount, "currency": "EUR"}, "reason": "broken brake"},
                               format="json")


def _error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_support_cannot_grant_goodwill_to_themselves(api):
    support = _staff("support_agent")
    for _ in range(3):  # the reported attack: 3 x 201 for 500 EUR to one's own wallet
        assert _error(_goodwill(api, support, support, "20.00")) == (403, "self_action_forbidden")
    assert not LedgerTransaction.objects.exists()
    assert selectors.wallet_balance(user=support, currency="EUR").bonus == Decimal(0)


def test_goodwill_above_the_limit_needs_the_finance_role(api, rider):
    support = _staff("support_agent")
    assert _error(_goodwill(api, support, rider, "50.01")) == (403, "finance_role_required")
    assert not LedgerTransaction.objects.exists()
    assert _goodwill(api, _staff("finance"), rider, "200.00").status_code == 201
    assert selectors.wallet_balance(user=rider, currency="EUR").bonus == Decimal("200.00")


def test_goodwill_records_the_staff_member_who_granted_it(api, rider):
    support = _staff("support_agent")
    r = _goodwill(api, support, rider, "50.00")  # at the limit: allowed
    assert r.status_code == 201
    txn = LedgerTransaction.objects.get(pk=r.json()["transaction_id"])
    assert (txn.actor_id, txn.user_id, txn.kind) == (support.pk, rider.pk, "bonus")


def test_finance_cannot_refund_their_own_ride(api):
    finance = _staff("finance")
    billing = _charged_ride(finance)
    assert _error(_refund(api, finance, billing.ride_id, "5.00")) == (403, "self_action_forbidden")
    assert not Refund.objects.exists() and not LedgerTransaction.objects.filter(kind="refund").exists()


def test_a_refund_records_its_actor_and_large_ones_need_the_approval_permission(api, rider):
    billing = _charged_ride(rider)
    clerk = UserFactory.create(is_staff=True)  # may refund, but is not finance: no approve_large_credit
    clerk.user_permissions.add(Permission.objects.get(codename="refund", content_type__app_label="billing"))
    clerk = User.objects.get(pk=clerk.pk)  # a fresh permission cache
    assert _error(_refund(api, clerk, billing.ride_id, "60.00")) == (403, "finance_role_required")
    assert not Refund.objects.exists()
    assert _refund(api, clerk, billing.ride_id, "10.00").status_code == 201
    finance = _staff("finance")
    assert _refund(api, finance, billing.ride_id, "60.00").status_code == 201
    actors = dict(LedgerTransaction.objects.filter(kind="refund").values_list("metadata__refund_id", "actor_id"))
    assert {str(r.pk): r.created_by_id for r in Refund.objects.all()} == actors
    assert set(actors.values()) == {clerk.pk, finance.pk}


def test_staff_cannot_unblock_themselves(rider):
    admin = _staff("admin")
    users.user_block(user=admin, reason="under investigation")
    with pytest.raises(account_errors.SelfActionForbidden) as refused:
        users.user_unblock(user=User.objects.get(pk=admin.pk), actor=User.objects.get(pk=admin.pk))
    assert (refused.value.code, refused.value.status) == ("self_action_forbidden", 403)
    assert User.objects.get(pk=admin.pk).status == User.Status.BLOCKED


def test_the_admin_unblock_action_refuses_oneself_and_records_the_actor(client):
    boss = UserFactory.create(is_staff=True, is_superuser=True)
    other = UserFactory.create()
    users.user_block(user=other, reason="spam")
    client.force_login(boss)
    client.post("/admin/accounts/user/", {"action": "unblock_users", "_selected_action": [boss.pk, other.pk]})
    assert User.objects.get(pk=other.pk).status == User.Status.ACTIVE
    entry = LogEntry.objects.get(object_id=str(other.pk), change_message="Unblocked")
    assert entry.user_id == boss.pk
    assert not LogEntry.objects.filter(object_id=str(boss.pk)).exists()


def _admin_promo(client: Client, **fields: Any) -> Any:
    now = timezone.now()
    data = {"code": "staff500", "kind": "credit", "currency": "EUR", "amount": "500.00", "per_rider_limit": "1",
            "valid_from_0": (now - timedelta(days=1)).strftime("%Y-%m-%d"), "valid_from_1": "00:00:00",
            "active": "on", **fields}
    return client.post("/admin/billing/promocode/add/", data)


def test_staff_cannot_redeem_a_promo_code_they_wrote_nor_be_its_referrer(api, rider):
    finance = _staff("finance")
    client = Client()
    client.force_login(finance)
    assert _admin_promo(client).status_code == 302
    promo = PromoCode.objects.get(code="STAFF500")
    assert (promo.created_by_id, promo.updated_by_id) == (finance.pk, finance.pk)
    r = api.as_(finance).post("/api/v1/promo-codes/redeem", {"code": "staff500"}, format="json")
    assert _error(r) == (403, "self_action_forbidden")
    assert not PromoRedemption.objects.exists()
    assert selectors.wallet_balance(user=finance, currency="EUR").bonus == Decimal(0)
    assert api.as_(rider).post("/api/v1/promo-codes/redeem", {"code": "staff500"}, format="json").status_code == 201

    refused = _admin_promo(client, code="mine", kind="referral", referrer=str(finance.pk), referrer_amount="5")
    assert refused.status_code == 403 and not PromoCode.objects.filter(code="MINE").exists()
