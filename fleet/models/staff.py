"""Which cities a staff member works in (docs/accounts.md "Cities").

Owned by fleet because ``City`` is fleet's; ``accounts`` (below fleet) knows nothing of cities. Read it through
``fleet.selectors.staff_city_ids`` and write it through ``fleet.services.staff_cities_set``, never directly.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from fleet.models.catalog import City


class StaffCities(models.Model):
    """A staff member's cities: ``all_cities`` or the listed ones. A staff member without a row sees no city-bound
    data (safe by default); superusers see every city whatever this says."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="staff_cities")
    all_cities = models.BooleanField(
        default=False, help_text="Every city, today's and future ones (head office, on-call managers)")
    cities = models.ManyToManyField(City, blank=True, related_name="+",
                                    help_text="The cities this staff member sees and acts on (lists, pages, actions, the map, the API)")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)

    class Meta:
        verbose_name = "staff member's cities"
        verbose_name_plural = "staff members' cities"

    def __str__(self) -> str:
        return "all cities" if self.all_cities else ", ".join(c.name for c in self.cities.all()) or "no city"
