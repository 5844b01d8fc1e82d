"""Custom list filters for the vehicles page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone


class BatteryBelowFilter(admin.SimpleListFilter):
    title = "battery below"
    parameter_name = "battery_below"
    THRESHOLDS = (10, 20, 30, 50)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(t), f"< {t} %") for t in self.THRESHOLDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None or not value.isdigit():
            return queryset
        return queryset.filter(battery_pct__lt=int(value))


class LastSeenOlderThanFilter(admin.SimpleListFilter):
    title = "last seen older than"
    parameter_name = "last_seen_older_than"
    CHOICES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1),
               "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, key) for key in self.CHOICES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        age = self.CHOICES.get(self.value() or "")
        if age is None:
            return queryset
        return queryset.filter(Q(position_at__lt=timezone.now() - age) | Q(position_at__isnull=True))
