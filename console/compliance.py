"""The admin's compliance page per city (``/admin/compliance/?city=<slug>&idle_days=N``, docs/console.md): vehicles
parked where no ride may end or outside the operating area, idle vehicles, zone caps. The figures are
``fleet.selectors.compliance``'s; this view only picks the city and the idle threshold and renders them."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from fleet import selectors as fleet_selectors
from fleet.selectors import compliance

# Who may look: the staff who may read vehicles and zones (every fleet role, fleet/roles.py).
PERMISSIONS = ("fleet.view_vehicle", "fleet.view_zone")


class ComplianceFilter(forms.Form):
    city = forms.SlugField(required=False)
    idle_days = forms.IntegerField(required=False, min_value=1, max_value=365, label="Idle for more than (days)")


def compliance_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perms(PERMISSIONS):
        raise PermissionDenied
    cities = list(fleet_selectors.staff_cities(request.user))  # the staff member's cities only
    form = ComplianceFilter(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    idle_days = data.get("idle_days") or settings.FLEET_IDLE_DAYS
    city = next((c for c in cities if c.slug == data.get("city")), cities[0] if cities else None)
    report = compliance.compliance_report(city_id=city.id, idle_days=idle_days) if city else None
    context = {
        **admin.site.each_context(request), "title": f"Compliance: {city.name}" if city else "Compliance",
        "cities": cities, "city": city, "report": report,
        "no_city_of_yours": not cities and bool(fleet_selectors.cities_all()), "idle_days": idle_days, "form": form,
        # Links per row from the lists' URLs: one reverse() each, not one per row of up to 600.
        "vehicles_url": reverse("admin:fleet_vehicle_changelist"), "zones_url": reverse("admin:fleet_zone_changelist"),
    }
    return TemplateResponse(request, "console/compliance.html", context)
