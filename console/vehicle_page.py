"""The vehicle page's panels (``console.admin``): its position and recent track on a map, a battery chart, its newest
rides, tasks and alerts. Console is the layer that may read fleet, rides and telemetry together; each through its
selectors. Every read is bounded: the track and the chart are one query over the window's history partitions,
thinned to ``TRACK_POINTS`` buckets; the lists take the newest ``ROWS`` by an index on (vehicle, time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString

from console import charts
from fleet import selectors as fleet_selectors
from fleet.models import Vehicle
from fleet.models.commands import OPEN_STATES as OPEN_COMMAND_STATES
from rides import selectors as ride_selectors
from telemetry import selectors as telemetry_selectors

TRACK_HOURS = (1, 6, 24)
DEFAULT_TRACK_HOURS = 6
TRACK_POINTS = 720
ROWS = 20
COMMAND_ROWS = 8
EVENT_ROWS = 30
SIMPLIFY_M = 3.0  # the track drawn on the map: detail below this is invisible at street zoom


@dataclass(frozen=True)
class TrackWindow:
    hours: int
    since: datetime
    until: datetime


def track_window(value: str | None, now: datetime) -> TrackWindow:
    """The chooser's ``?track=`` (hours: 1, 6 or 24); anything else is the default."""
    hours = int(value) if value in {str(h) for h in TRACK_HOURS} else DEFAULT_TRACK_HOURS
    return TrackWindow(hours, now - timedelta(hours=hours), now)


def _simplified(coords: list[tuple[float, float]]) -> list[list[float]]:
    if len(coords) < 3:
        return [[lat, lon] for lat, lon in coords]
    line = shapely.simplify(shapely.LineString([(lon, lat) for lat, lon in coords]), SIMPLIFY_M / 111_320.0)
    return [[round(y, 6), round(x, 6)] for x, y in line.coords]


def _battery_chart(samples: list[telemetry_selectors.HistorySample], window: TrackWindow) -> SafeString | None:
    readings = [(s.at.timestamp(), float(s.battery_pct)) for s in samples if s.battery_pct is not None]
    if not readings:
        return None
    start, end = window.since.timestamp(), window.until.timestamp()
    every = {1: 15 * 60, 6: 3600, 24: 4 * 3600}[window.hours]
    first = (int(start) // every + 1) * every
    labels = [(float(t), f"{timezone.localtime(datetime.fromtimestamp(t, tz=UTC)):%H:%M}")
              for t in range(first, int(end), every)]
    return charts.line_chart(
        points=readings, x_range=(start, end), x_labels=labels, y_max=100.0, y_ticks=(0, 50, 100), y_unit=" %",
        title=f"Battery over the last {window.hours} h", threshold=float(settings.FLEET_LOW_BATTERY_PCT),
        gap=(end - start) / 24, width=420, height=170)


def command_panel(vehicle: Vehicle) -> dict[str, Any]:
    commands = fleet_selectors.vehicle_commands_recent(vehicle_id=vehicle.id, limit=COMMAND_ROWS)
    return {"commands": commands, "commands_waiting": any(c.state in OPEN_COMMAND_STATES for c in commands),
            "command_rows": COMMAND_ROWS}


def _events(vehicle: Vehicle) -> dict[str, Any]:
    events = fleet_selectors.vehicle_events_recent(vehicle_id=vehicle.id, limit=EVENT_ROWS)
    trips = [e.trip_id for e in events if e.trip_id is not None]
    return {"events": events, "event_rides": ride_selectors.ride_ids_existing(ids=trips) if trips else set(),
            "event_rows": EVENT_ROWS}


def vehicle_panels(vehicle: Vehicle, *, track: str | None, now: datetime | None = None) -> dict[str, Any]:
    window = track_window(track, now or timezone.now())
    samples = telemetry_selectors.vehicle_history(vehicle_id=vehicle.id, since=window.since, until=window.until,
                                                  max_points=TRACK_POINTS)
    coords = [(s.lat, s.lon) for s in samples if s.lat is not None and s.lon is not None]
    position = [vehicle.lat, vehicle.lon] if vehicle.lat is not None and vehicle.lon is not None else None
    markers = [] if position is None else [{
        "lat": position[0], "lon": position[1], "kind": "vehicle", "status": vehicle.status,
        "label": f"{vehicle.code}: {vehicle.get_status_display()}, battery {vehicle.battery_pct} %"}]
    return {
        "vehicle_map": {"track": _simplified(coords), "markers": markers},
        "has_position": position is not None, "track_readings": len(coords),
        "track_window": window, "track_choices": TRACK_HOURS,
        "battery_chart": _battery_chart(samples, window), "low_battery_pct": settings.FLEET_LOW_BATTERY_PCT,
        "rides": ride_selectors.rides_of_vehicle(vehicle_id=vehicle.id, limit=ROWS),
        "tasks": list(fleet_selectors.ops_tasks_list(vehicle_id=vehicle.id, state="all")
                      .select_related("assignee").order_by("-created_at")[:ROWS]),
        "alerts": list(fleet_selectors.ops_alerts_list(vehicle_id=vehicle.id, state="all")
                       .order_by("-opened_at")[:ROWS]),
        "rows": ROWS, **command_panel(vehicle), **_events(vehicle),
    }
