from django.contrib import admin

from core.admin import CityTimeZoneAdmin
from fleet.admin.scope import CityScopedAdmin
from fleet.models import City, VehicleType


@admin.register(City)
class CityAdmin(CityScopedAdmin, CityTimeZoneAdmin):
    city_field = "id"
    empty_help = ("No city yet: add the first one (its time zone sets the times these pages show), then its vehicle "
                  "types, zones and tariffs. `manage.py demo_data` loads a demo Berlin.")
    list_display = ["name", "slug", "timezone", "currency", "default_language"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    city_time_zone_path = "timezone"


@admin.register(VehicleType)
class VehicleTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "form_factor", "propulsion_type", "max_range_meters", "max_permitted_speed_kph"]
    list_filter = ["form_factor", "propulsion_type"]
    search_fields = ["name", "code"]
