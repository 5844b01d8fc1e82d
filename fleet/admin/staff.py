"""The "Cities" box of a user's admin page: which cities a staff member sees and acts on (docs/accounts.md
"Cities"). ``console.support.admin`` adds ``StaffCitiesInline`` to the user admin (accounts knows no city).

Edited by whoever may change users; saved through ``fleet.services.staff_cities_set``. A staff member who sees
only some cities can give only those (and never "all cities"), and keeps the other cities the user already has.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from fleet import selectors, services
from fleet.models import StaffCities


class StaffCitiesForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = StaffCities
        fields = ["all_cities", "cities"]
        widgets = {"cities": forms.CheckboxSelectMultiple}
        labels = {"all_cities": "All cities", "cities": "Cities"}


class StaffCitiesFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    editor: Any = None  # the staff member editing (set by the inline per request)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editor_scope = selectors.staff_city_ids(self.editor)
        for form in self.forms:
            cities: Any = form.fields["cities"]
            cities.queryset = selectors.staff_cities(self.editor)
            cities.widget.can_add_related = False  # the admin's "+": cities are made on their own page
            if editor_scope is not None:
                form.fields["all_cities"].disabled = True
                form.fields["all_cities"].help_text = "Only staff who see every city may give every city."

    def save(self, commit: bool = True) -> list[StaffCities]:
        """Every change through ``staff_cities_set`` (one place that writes a grant, for the audit log)."""
        saved = []
        # What the admin's change message reads (a formset's save sets them).
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        editor_scope = selectors.staff_city_ids(self.editor)
        for form in self.forms:
            if not form.has_changed() or not form.is_valid():
                continue
            is_new = form in self.extra_forms
            data = form.cleaned_data
            cities = list(data.get("cities") or [])
            if editor_scope is not None and not is_new:
                # Cities the editor cannot see stay as they were: the form could not show them.
                cities += [c for c in form.instance.cities.all() if c.pk not in editor_scope]
            grant = services.staff_cities_set(user=self.instance, cities=cities,
                                              all_cities=bool(data.get("all_cities")), by=self.editor)
            if is_new:
                self.new_objects.append(grant)
            else:
                self.changed_objects.append((grant, form.changed_data))
            saved.append(grant)
        return saved


class StaffCitiesInline(admin.StackedInline):  # type: ignore[type-arg]
    model = StaffCities
    form = StaffCitiesForm
    formset = StaffCitiesFormSet
    fk_name = "user"
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = verbose_name_plural = "Cities"
    classes = ["fw-staff-cities"]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type("StaffCitiesFormSetFor", (formset,), {"editor": request.user})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.view_user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.change_user")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.change_user")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
