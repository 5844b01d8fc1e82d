"""Admin for mobile push: riders' registered app installs, each push attempt, riders' preferences."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import Device, NotificationPreference, PushDelivery
from core.admin import ReadOnlyAdmin


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    """App installs that receive pushes, registered by the app (``PUT /api/v1/me/devices/<install_id>``).
    Support may delete one (a lost phone); the app registers it again at its next start if still signed in."""

    large_table = True
    list_display = ["registered_at", "user", "platform", "install_id", "app_version", "locale", "last_push_at"]
    search_fields = ["user__email", "=install_id"]
    date_hierarchy = "registered_at"
    list_select_related = ["user"]
    exclude = ["token"]  # the provider's token is a delivery address: not shown to staff
    readonly_fields = ["user", "install_id", "provider", "platform", "app_version", "locale", "time_zone",
                       "created_at", "registered_at", "last_push_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("accounts.delete_device")


@admin.register(PushDelivery)
class PushDeliveryAdmin(ReadOnlyAdmin):
    """Every push of a notification to a device, with its attempts: was it sent, held for quiet hours (pending
    with a later time), dropped as stale, or did the token turn out invalid (the device was removed)?"""

    large_table = True
    list_display = ["created_at", "rider", "kind", "device", "state", "attempts", "next_attempt_at", "sent_at",
                    "last_error"]
    list_filter = ["state"]
    search_fields = ["notification__user__email"]
    date_hierarchy = "created_at"
    list_select_related = ["notification__user", "device"]

    @admin.display(description="rider")
    def rider(self, delivery: PushDelivery) -> str:
        return str(delivery.notification.user)

    @admin.display(description="kind")
    def kind(self, delivery: PushDelivery) -> str:
        return delivery.notification.kind


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    """Riders' choices (changed only by the rider, in the app): which categories reach the phone, quiet hours."""

    large_table = True
    list_display = ["user", "push_receipts", "push_reservations", "push_marketing", "quiet_hours_start",
                    "quiet_hours_end", "updated_at"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
