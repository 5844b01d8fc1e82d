"""What a rider's ride socket shows, kept in the consumer's memory between database snapshots.

``live.selectors.ride_live_get`` builds a ``RideLive`` from the database (the ride, its locked tariff snapshot,
the rider's benefits, what the rider already spent today); telemetry's ``ride.updated`` pushes then move the
position, battery and distance in memory, and ``to_json`` recomputes the elapsed time and the running cost with
the billing fare engine (``billing.fares.running_cost``) exactly as ``rides.services.ride_fare`` would, without
a query per update. State changes reload the whole thing from the database.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing import fares
from core.money import money

# Telemetry fields a ride.updated push may move without a database round trip.
TELEMETRY_FIELDS = ("lat", "lon", "battery_pct", "distance_m", "at")
RUNNING_STATES = ("active", "paused", "locking")


@dataclasses.dataclass(slots=True, kw_only=True)
class RideLive:
    ride_id: str
    state: str
    vehicle_code: str
    currency: str
    created_at: float
    started_at: float | None
    paused_at: float | None
    paused_seconds: int
    reserved_seconds: int
    tariff: fares.TariffSnapshot | None
    benefits: fares.Benefits
    spent_today: Decimal
    lat: float | None = None
    lon: float | None = None
    battery_pct: int | None = None
    distance_m: int = 0
    at: str | None = None
    ended: dict[str, Any] | None = None  # receipt summary of an ended or cancelled ride
    _cost_key: tuple[int, int, int] | None = None
    _cost: dict[str, Any] | None = None

    def apply_telemetry(self, payload: dict[str, Any]) -> None:
        for name in TELEMETRY_FIELDS:
            if payload.get(name) is not None:
                setattr(self, name, payload[name])

    def apply_ride_update(self, payload: dict[str, Any]) -> bool:
        """Apply a ``ride.updated`` from the rides services (``rides.services.common.push_updated``) in memory.

        Returns False when the payload lacks what is needed (then the caller reloads from the database).
        """
        if "state" not in payload or "paused_seconds" not in payload:
            return False
        self.state = str(payload["state"])
        started, paused = payload.get("started_at"), payload.get("paused_at")
        self.started_at = _epoch(str(started)) if started else self.started_at
        self.paused_at = _epoch(str(paused)) if paused else None
        self.paused_seconds = int(payload["paused_seconds"])
        self._cost_key = None
        return True

    def apply_ended(self, payload: dict[str, Any]) -> None:
        """``ride.ended`` (``rides.services.finish``): the final figures; the itemised receipt is in the snapshot
        and in ``GET /api/v1/rides/<id>``."""
        self.state = "ended"
        self.paused_at = None
        total, currency = payload.get("total"), payload.get("currency") or self.currency
        self.ended = {"reason": payload.get("end_reason"), "ended_at": payload.get("ended_at"),
                      "duration_s": payload.get("duration_s"), "distance_m": payload.get("distance_m"),
                      "fare_total": None if total is None else money(Decimal(str(total)), currency)}
        if payload.get("distance_m") is not None:
            self.distance_m = int(payload["distance_m"])

    def usage(self, now: float) -> fares.RideUsage:
        """The same usage ``rides.services.ride_fare`` builds, at ``now``."""
        started = self.started_at if self.started_at is not None else self.created_at
        duration = max(0, int(now - started))
        paused = self.paused_seconds + (max(0, int(now - self.paused_at)) if self.paused_at is not None else 0)
        return fares.RideUsage(
            riding_seconds=max(0, duration - paused), paused_seconds=min(paused, duration),
            reserved_seconds=self.reserved_seconds, distance_m=int(self.distance_m or 0),
            spent_today=self.spent_today,
        )

    def running_cost(self, now: float, usage: fares.RideUsage | None = None) -> dict[str, Any] | None:
        if self.tariff is None or self.state not in RUNNING_STATES:
            return None
        usage = usage if usage is not None else self.usage(now)
        # The fare only changes per started minute (and per metre where the tariff charges distance):
        # recompute when that changes, not on every position update.
        key = (fares.started_minutes(usage.riding_seconds), fares.started_minutes(usage.paused_seconds),
               usage.distance_m if self.tariff.per_km else 0)
        if key != self._cost_key or self._cost is None:
            cost = fares.running_cost(self.tariff, usage, self.benefits, paused=self.state == "paused")
            self._cost_key = key
            self._cost = {"total": money(cost.fare.total, self.currency),
                          "per_minute": money(cost.per_minute, self.currency),
                          "next_minute_adds": money(cost.next_minute_adds, self.currency), "paused": cost.paused}
        return self._cost

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        elapsed = 0 if self.started_at is None else max(0, int(now - self.started_at))
        if self.ended is not None:
            elapsed = int(self.ended.get("duration_s") or 0)
        usage = self.usage(now)  # once per update: this runs for every ride.updated a socket sends
        return {
            "ride_id": self.ride_id, "state": self.state, "vehicle_code": self.vehicle_code,
            "elapsed_s": elapsed, "paused_s": usage.paused_seconds if self.started_at else 0,
            "running_cost": self.running_cost(now, usage),
            "position": None if self.lat is None or self.lon is None else {"lat": self.lat, "lon": self.lon},
            "battery_pct": self.battery_pct, "distance_m": int(self.distance_m or 0), "at": self.at,
            "ended": self.ended,
        }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
