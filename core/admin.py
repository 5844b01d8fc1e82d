from django.contrib import admin

from core.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "scope", "method", "path", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state", "method"]
    search_fields = ["key", "scope", "path"]
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields]
