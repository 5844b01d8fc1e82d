"""GBFS systems and alerts, managed by ops staff. The feed shows a change within the file's ttl."""

from __future__ import annotations

from django.contrib import admin

from feeds.models import GbfsAlert, GbfsSystem
from fleet.admin.scope import CityScopedAdmin


class GbfsAlertInline(admin.TabularInline):
    model = GbfsAlert
    extra = 0
    fields = ["type", "summary", "description", "url", "starts_at", "ends_at"]


@admin.register(GbfsSystem)
class GbfsSystemAdmin(CityScopedAdmin, admin.ModelAdmin):
    list_display = ["system_id", "city", "name", "published", "feed_contact_email"]
    list_filter = ["published", "city"]
    search_fields = ["system_id", "name"]
    autocomplete_fields = ["city"]
    filter_horizontal = ["vehicle_types"]
    inlines = [GbfsAlertInline]
    fieldsets = [
        (None, {"fields": ["system_id", "city", "vehicle_types", "published"]}),
        ("What riders see", {"fields": ["name", "short_name", "operator", "languages", "opening_hours", "url",
                                        "purchase_url", "email", "phone_number", "start_date"]}),
        ("Terms and licence", {"fields": ["terms_url", "terms_last_updated", "privacy_url", "privacy_last_updated",
                                          "license_id", "feed_contact_email"]}),
        ("Rider app", {"fields": ["android_store_uri", "android_discovery_uri", "ios_store_uri", "ios_discovery_uri",
                                  "rental_uri"]}),
    ]
