"""Tariff reads: current tariffs of a city, quotes, GBFS pricing plans, and plan ids for the fleet's nearby API."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from billing import errors, fares, gbfs_pricing
from billing.models import Tariff
from billing.services.tariffs import TARIFF_CACHE, tariff_snapshot
from core import cache as core_cache

logger = logging.getLogger(__name__)


def tariffs_current(*, city_slug: str) -> QuerySet[Tariff]:
    return (Tariff.objects.filter(city__slug=city_slug, is_current=True).select_related("city", "vehicle_type")
            .order_by("vehicle_type__code"))


def tariff_current(*, city_slug: str, vehicle_type_code: str) -> Tariff:
    tariff = tariffs_current(city_slug=city_slug).filter(vehicle_type__code=vehicle_type_code).first()
    if tariff is None:
        raise errors.TariffNotFound(city=city_slug, vehicle_type=vehicle_type_code)
    return tariff


def tariff_for_ride(*, city_id: uuid.UUID, vehicle_type_id: uuid.UUID) -> fares.TariffSnapshot:
    """The snapshot a ride starts with (the rides app stores ``.to_json()`` on the ride).

    Cached in Redis (``core.cache``) until ``tariff_publish`` makes another version current: every ride start
    and reservation reads it, and it changes a few times a year.
    """
    def load() -> dict[str, Any] | None:
        tariff = (Tariff.objects.filter(city_id=city_id, vehicle_type_id=vehicle_type_id, is_current=True)
                  .select_related("city", "vehicle_type").first())
        return None if tariff is None else tariff_snapshot(tariff).to_json()

    found = core_cache.cached(TARIFF_CACHE, f"{city_id}:{vehicle_type_id}", load)
    if found is None:
        raise errors.TariffNotFound()
    return fares.TariffSnapshot.from_json(found)


def pricing_plans_for(
    city_id: uuid.UUID, vehicle_type_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | str | None]:
    """The fleet's PricingPlanResolver: one query for all types of a city (registered in BillingConfig.ready)."""
    wanted = set(vehicle_type_ids)
    rows = (Tariff.objects.filter(city_id=city_id, vehicle_type_id__in=wanted, is_current=True)
            .select_related("city", "vehicle_type"))
    found: dict[uuid.UUID, uuid.UUID | str | None] = {t.vehicle_type_id: t.plan_id for t in rows}
    return {type_id: found.get(type_id) for type_id in wanted}


def current_plan_ids(*, city_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """vehicle type id -> the GBFS plan_id of its current tariff in the city (types without one are absent)."""
    rows = Tariff.objects.filter(city_id=city_id, is_current=True).select_related("city", "vehicle_type")
    return {t.vehicle_type_id: t.plan_id for t in rows}


def pricing_plan_id_for(vehicle: Any) -> str | None:
    """Plan id of a vehicle (anything with ``city_id`` and ``vehicle_type_id``), or None without a tariff."""
    plan = pricing_plans_for(vehicle.city_id, [vehicle.vehicle_type_id])[vehicle.vehicle_type_id]
    return None if plan is None else str(plan)


def gbfs_pricing_plans(*, city_slug: str, ttl: int = 300) -> dict[str, object]:
    """``system_pricing_plans.json`` for a city; what GBFS cannot express is logged as a warning, not dropped."""
    plans = []
    for tariff in tariffs_current(city_slug=city_slug):
        plan, warnings = gbfs_pricing.to_gbfs_plan(
            tariff_snapshot(tariff), plan_id=tariff.plan_id, name=tariff.name or tariff.vehicle_type.name,
            language=tariff.city.default_language.split("-")[0],
        )
        for warning in warnings:
            logger.info("GBFS plan %s: %s (%s)", tariff.plan_id, warning.message, warning.code)
        plans.append(plan)
    return gbfs_pricing.pricing_plans_feed(plans, last_updated=timezone.now(), ttl=ttl)
