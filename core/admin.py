from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import IdempotencyKey


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For records that only services write (ledger, event logs, rides): the admin shows them, never edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "scope", "method", "path", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state", "method"]
    search_fields = ["key", "scope", "path"]
