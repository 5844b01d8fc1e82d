"""The "Cities" box of a user's admin page (docs/accounts.md "Cities"): who may change users gives a staff member
cities, through ``staff_cities_set``; an editor limited to some cities gives only theirs and keeps the others."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.services.roles import roles_sync
from fleet import selectors
from fleet.models import StaffCities
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db
PREFIX = "staff_cities"


def _page_data(response: Any) -> dict[str, Any]:
    """The POST a browser would send for the page as shown (the user form and the Cities box)."""
    data: dict[str, Any] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        forms += formset.forms
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if field.disabled or value is None or value is False:
                continue
            key = form.add_prefix(name)
            data[key] = [str(v) for v in value] if isinstance(value, list | tuple) else (
                "on" if value is True else str(value))
    return data


def _editor(cities: list[Any] | None, *, superuser: bool = False) -> tuple[Any, Client]:
    roles_sync()
    user = UserFactory.create(is_staff=True, is_superuser=superuser, staff_cities=cities)
    user.groups.add(Group.objects.get(name="admin"))
    client = Client()
    client.force_login(user)
    return user, client


def test_an_admin_gives_a_new_technician_berlin_on_the_users_page() -> None:
    berlin = CityFactory.create(slug="berlin", name="Berlin")
    CityFactory.create(slug="hamburg", name="Hamburg")
    boss, client = _editor(None, superuser=True)
    tech = UserFactory.create(is_staff=True, staff_cities=[])
    StaffCities.objects.filter(user=tech).delete()  # a staff member added after cities came: none
    page = client.get(f"/admin/accounts/user/{tech.pk}/change/")
    html = page.content.decode()
    assert "The cities this staff member sees and acts on" in html and "Hamburg" in html
    data = _page_data(page)
    data[f"{PREFIX}-0-cities"] = [str(berlin.pk)]
    r = client.post(f"/admin/accounts/user/{tech.pk}/change/", data)
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    grant = StaffCities.objects.get(user=tech)
    assert (grant.all_cities, list(grant.cities.all()), grant.updated_by) == (False, [berlin], boss)
    assert selectors.staff_city_ids(tech) == {berlin.pk}


def test_an_editor_of_berlin_gives_berlin_only_and_keeps_the_cities_they_cannot_see() -> None:
    berlin, hamburg = CityFactory.create(slug="berlin", name="Berlin"), CityFactory.create(slug="hamburg")
    _, client = _editor([berlin])
    colleague = UserFactory.create(is_staff=True, staff_cities=[berlin, hamburg])
    page = client.get(f"/admin/accounts/user/{colleague.pk}/change/")
    box = page.context["inline_admin_formsets"][0].formset.forms[0]
    assert list(box.fields["cities"].queryset) == [berlin] and box.fields["all_cities"].disabled
    data = _page_data(page)
    data.pop(f"{PREFIX}-0-cities")  # untick Berlin
    data[f"{PREFIX}-0-all_cities"] = "on"  # a disabled field: ignored
    assert client.post(f"/admin/accounts/user/{colleague.pk}/change/", data).status_code == 302
    grant = StaffCities.objects.get(user=colleague)
    assert (grant.all_cities, list(grant.cities.all())) == (False, [hamburg])


def test_support_sees_the_box_but_cannot_change_it() -> None:
    berlin = CityFactory.create(slug="berlin", name="Berlin")
    roles_sync()
    agent = UserFactory.create(is_staff=True, staff_cities=[berlin])
    agent.groups.add(Group.objects.get(name="support_agent"))
    client = Client()
    client.force_login(agent)
    page = client.get(f"/admin/accounts/user/{agent.pk}/change/")
    assert page.status_code == 200
    assert 'name="staff_cities-0-cities"' not in page.content.decode()
