"""Publishing tariffs (every edit is a new version) and turning one into the fare engine's snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from accounts.models import User
from billing import errors, fares
from billing.models import Tariff
from core import cache as core_cache
from fleet.models import City, VehicleType

TARIFF_CACHE = "billing.tariff_for_ride"  # core.cache namespace of the current tariff per (city, vehicle type)

EDITABLE = [
    "name", "unlock_fee", "brackets", "per_km", "pause_per_minute", "reservation_mode", "reservation_flat_fee",
    "reservation_per_minute", "reservation_free_minutes", "ride_cap", "daily_cap", "free_minutes", "minimum_fare",
    "vat_rate", "zone_adjustments",
]


def tariff_snapshot(tariff: Tariff) -> fares.TariffSnapshot:
    """The frozen form a ride stores; raises ``fares.TariffInvalid`` for a row the engine refuses."""
    def dec(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return fares.TariffSnapshot(
        tariff_id=f"{tariff.city.slug}-{tariff.vehicle_type.code}", version=tariff.version, currency=tariff.currency,
        unlock_fee=Decimal(tariff.unlock_fee),
        brackets=tuple(fares.PriceBracket(int(b["start_minute"]), Decimal(str(b["per_minute"])))
                       for b in tariff.brackets),
        per_km=dec(tariff.per_km), pause_per_minute=Decimal(tariff.pause_per_minute),
        reservation_mode=tariff.reservation_mode,  # type: ignore[arg-type]
        reservation_flat_fee=Decimal(tariff.reservation_flat_fee),
        reservation_per_minute=Decimal(tariff.reservation_per_minute),
        reservation_free_minutes=tariff.reservation_free_minutes,
        ride_cap=dec(tariff.ride_cap), daily_cap=dec(tariff.daily_cap), free_minutes=tariff.free_minutes,
        minimum_fare=Decimal(tariff.minimum_fare), vat_rate=Decimal(tariff.vat_rate),
        zone_adjustments=tuple(fares.ZoneAdjustment(str(z["zone_id"]), str(z.get("name", "")),
                                                    Decimal(str(z["amount"]))) for z in tariff.zone_adjustments),
    )


@transaction.atomic
def tariff_publish(*, city: City, vehicle_type: VehicleType, actor: User | None = None, **fields: Any) -> Tariff:
    """Create version N+1 from the current version (or from scratch) with ``fields`` changed; it becomes current.

    The row is validated by building its snapshot: anything the fare engine refuses is ``tariff_invalid``.
    """
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise errors.TariffInvalid(f"Unknown tariff fields: {sorted(unknown)}")
    # Serialise publishers of one (city, type), also the very first one (no row to lock yet): a transaction-
    # scoped advisory lock, so two concurrent edits get consecutive versions instead of a unique violation.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"tariff:{city.pk}:{vehicle_type.pk}"])
    current = Tariff.objects.filter(city=city, vehicle_type=vehicle_type, is_current=True).first()
    top = Tariff.objects.filter(city=city, vehicle_type=vehicle_type).aggregate(v=Max("version"))["v"] or 0
    base = {name: getattr(current, name) for name in EDITABLE} if current else {"brackets": []}
    tariff = Tariff(city=city, vehicle_type=vehicle_type, version=top + 1, currency=city.currency,
                    created_by=actor, **{**base, **fields})
    try:
        tariff_snapshot(tariff)
    except (fares.TariffInvalid, KeyError, TypeError, ArithmeticError) as exc:
        raise errors.TariffInvalid(str(exc)) from None
    if current is not None:
        Tariff.objects.filter(pk=current.pk).update(is_current=False)
    tariff.save()
    core_cache.cached_bump(TARIFF_CACHE, f"{city.pk}:{vehicle_type.pk}")  # after commit
    return tariff
