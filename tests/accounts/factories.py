from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from accounts.models import User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"rider{n}@example.com")
    name = factory.Faker("name")
    date_of_birth = dt.date(1990, 1, 1)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def staff_cities(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Staff get every city unless told (``staff_cities=[berlin]``, or ``[]`` for none), as the migration
        gave every staff member who existed before cities: tests of other things keep seeing everything."""
        user: Any = self  # factory-boy passes the created User here
        if not create or not user.is_staff:
            return
        from fleet import services as fleet_services

        fleet_services.staff_cities_set(user=user, cities=extracted or [], all_cities=extracted is None, by=None)

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: object = None) -> None:
        if create:
            instance.save()
