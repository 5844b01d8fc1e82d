from __future__ import annotations

import factory

from billing.models import PaymentMethod
from tests.accounts.factories import UserFactory


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    user = factory.SubFactory(UserFactory)
    provider = "testpsp"
    ref = factory.Sequence(lambda n: f"pm_visa_{n:08x}")
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2034
    is_default = True
