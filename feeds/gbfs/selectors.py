"""The GBFS 3.0 documents of a system, built from what fleet, billing and the system's own row hold.

Every builder is a pure read through the other apps' selectors; ``feeds.gbfs.cache`` decides how often one runs
(at most once per ``TTL[name]`` per system) and ``feeds.gbfs.v2`` derives the 2.3 documents from these.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models import Q

from billing import selectors as billing_selectors
from feeds.gbfs import cache, ids
from feeds.models import GbfsAlert, GbfsSystem
from fleet import selectors as fleet_selectors
from fleet.models import VehicleType, Zone, ZoneKind
from fleet.selectors import gbfs as fleet_gbfs

Document = dict[str, Any]

# Seconds each file stays valid (its ``ttl``, its Cache-Control max-age, and how often it is rendered at most).
TTL: dict[str, int] = {
    "manifest": 300,
    "gbfs": 300,
    "gbfs_versions": 3600,
    "system_information": 1800,
    "vehicle_types": 3600,
    "vehicle_status": 15,
    "system_pricing_plans": 300,
    "geofencing_zones": 60,
    "system_alerts": 60,
    "station_information": 300,
    "station_status": 15,
}
# Files of a system, in the order gbfs.json lists them; station files only for a city with parking zones.
FILES = ("gbfs_versions", "system_information", "vehicle_types", "station_information", "station_status",
         "vehicle_status", "system_pricing_plans", "geofencing_zones", "system_alerts")
STATION_FILES = ("station_information", "station_status")
# Parking zones are the city's virtual stations (docs/gbfs.md "Stations").
STATION_KINDS = (ZoneKind.PARKING_MANDATORY, ZoneKind.PARKING_PREFERRED)
# GBFS major version in our URLs -> the version its files declare.
VERSIONS = {"v2": "2.3", "v3": "3.0"}
V2_NAMES = {"vehicle_status": "free_bike_status"}  # 3.0 name -> 2.3 name where they differ


def system_ids_by_city(city_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """{city id: its published systems' ids, sorted}: what ``GET /cities`` links to (registered with the fleet)."""
    found: dict[uuid.UUID, list[str]] = {}
    rows = GbfsSystem.objects.filter(city_id__in=city_ids, published=True).order_by("system_id")
    for city_id, system_id in rows.values_list("city_id", "system_id"):
        found.setdefault(city_id, []).append(system_id)
    return found


def systems_published() -> list[GbfsSystem]:
    return list(GbfsSystem.objects.filter(published=True).select_related("city").order_by("system_id"))


def system_get(*, system_id: str) -> GbfsSystem | None:
    """The published system, or None (the feed answers 404 for an unknown or unpublished one)."""
    return GbfsSystem.objects.filter(system_id=system_id, published=True).select_related("city").first()


@dataclass(frozen=True)
class Feed:
    """One render: the system, the base URL its links start with, and the moment it describes."""

    system: GbfsSystem
    base_url: str
    now: datetime
    prefix: str = "v3"  # the version rendered: "v3" (3.0) or "v2" (2.3, derived by feeds.gbfs.v2)

    def url(self, prefix: str, name: str) -> str:
        if prefix == "v2":
            name = V2_NAMES.get(name, name)
        return f"{self.base_url}/gbfs/{prefix}/{self.system.system_id}/{name}.json"

    @cached_property
    def stations(self) -> list[Zone]:
        return _stations(self)

    @cached_property
    def types(self) -> list[tuple[VehicleType, str]]:
        return _types(self)

    @property
    def languages(self) -> list[str]:
        return list(self.system.languages) or [self.system.city.default_language]

    def text(self, value: str) -> list[dict[str, str]]:
        """A text we hold in one language only, given for every language of the feed (GBFS 3.0 wants each)."""
        return [{"text": value, "language": lang} for lang in self.languages]

    def relocalize(self, items: list[dict[str, str]]) -> list[dict[str, str]]:
        """Localized strings from another app, one per feed language: the exact language, else the same primary
        language (de for de-CH), else the first text."""
        def pick(lang: str) -> str:
            for test in (lambda other: other == lang, lambda other: other.split("-")[0] == lang.split("-")[0]):
                for item in items:
                    if test(item["language"]):
                        return item["text"]
            return items[0]["text"]

        return [{"text": pick(lang), "language": lang} for lang in self.languages] if items else items


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def envelope(name: str, data: Document, now: datetime) -> Document:
    return {"last_updated": timestamp(now), "ttl": TTL[name], "version": "3.0", "data": data}


def manifest(*, base_url: str, now: datetime) -> Document:
    datasets = [
        {"system_id": system.system_id,
         "versions": [{"version": version, "url": f"{base_url}/gbfs/{prefix}/{system.system_id}/gbfs.json"}
                      for prefix, version in sorted(VERSIONS.items(), key=lambda item: item[1])]}
        for system in systems_published()
    ]
    return envelope("manifest", {"datasets": datasets}, now)


def document(feed: Feed, name: str) -> Document:
    """The 3.0 document ``name`` of the system; with ``feed.prefix`` "v2", ``gbfs`` lists the 2.3 files and
    ``vehicle_status`` has the 2.3 shape already (the rest is converted by ``feeds.gbfs.v2``)."""
    return envelope(name, BUILDERS[name](feed), feed.now)


def _stations(feed: Feed) -> list[Zone]:
    """The city's parking zones in force now: its virtual stations."""
    return [zone for zone in fleet_selectors.city_zones(city_id=feed.system.city_id)
            if zone.kind in STATION_KINDS and (zone.starts_at is None or zone.starts_at <= feed.now)
            and (zone.ends_at is None or feed.now < zone.ends_at)]


def _types(feed: Feed) -> list[tuple[VehicleType, str]]:
    """(vehicle type, its plan id): the types with a current tariff in the city, limited to the system's types."""
    plans = billing_selectors.current_plan_ids(city_id=feed.system.city_id)
    wanted = set(feed.system.vehicle_types.values_list("id", flat=True))
    types = fleet_gbfs.vehicle_types_by_id(ids=[t for t in plans if not wanted or t in wanted])
    return [(t, plans[t.id]) for t in types]


def _file_names(feed: Feed) -> list[str]:
    skip = set() if feed.stations else set(STATION_FILES)
    if not feed.types:
        skip.add("system_pricing_plans")
    return [name for name in FILES if name not in skip]


def _gbfs(feed: Feed) -> Document:
    prefix = feed.prefix
    feeds = [{"name": V2_NAMES.get(name, name) if prefix == "v2" else name, "url": feed.url(prefix, name)}
             for name in _file_names(feed)]
    if prefix == "v2":  # 2.3 lists the feeds per language; our 2.3 files carry the first language only
        return {feed.languages[0]: {"feeds": feeds}}
    return {"feeds": feeds}


def _gbfs_versions(feed: Feed) -> Document:
    return {"versions": [{"version": version, "url": feed.url(prefix, "gbfs")}
                         for prefix, version in sorted(VERSIONS.items(), key=lambda item: item[1])]}


def _system_information(feed: Feed) -> Document:
    system = feed.system
    data: Document = {
        "system_id": system.system_id, "languages": feed.languages, "name": feed.text(system.name),
        "opening_hours": system.opening_hours, "feed_contact_email": system.feed_contact_email,
        "timezone": system.city.timezone, "manifest_url": f"{feed.base_url}/gbfs/manifest.json",
    }
    optional: Document = {
        "short_name": system.short_name and feed.text(system.short_name),
        "operator": system.operator and feed.text(system.operator),
        "url": system.url, "purchase_url": system.purchase_url, "email": system.email,
        "phone_number": system.phone_number, "license_id": system.license_id,
        "start_date": system.start_date and system.start_date.isoformat(),
        "terms_url": system.terms_url and feed.text(system.terms_url),
        "terms_last_updated": system.terms_url and system.terms_last_updated and system.terms_last_updated.isoformat(),
        "privacy_url": system.privacy_url and feed.text(system.privacy_url),
        "privacy_last_updated": system.privacy_url and system.privacy_last_updated
        and system.privacy_last_updated.isoformat(),
    }
    data |= {key: value for key, value in optional.items() if value}
    apps = {platform: {"store_uri": store, "discovery_uri": discovery} for platform, store, discovery in (
        ("android", system.android_store_uri, system.android_discovery_uri),
        ("ios", system.ios_store_uri, system.ios_discovery_uri)) if store and discovery}
    if apps:
        data["rental_apps"] = apps
    return data


def _motorised(vehicle_type: VehicleType) -> bool:
    return vehicle_type.propulsion_type != "human"


def _vehicle_types(feed: Feed) -> Document:
    return_constraint = "hybrid" if feed.stations else "free_floating"
    out = []
    for vehicle_type, plan_id in feed.types:
        item: Document = {
            "vehicle_type_id": vehicle_type.code, "form_factor": vehicle_type.form_factor,
            "propulsion_type": vehicle_type.propulsion_type, "name": feed.text(vehicle_type.name),
            "rider_capacity": vehicle_type.rider_capacity, "return_constraint": return_constraint,
            "default_pricing_plan_id": plan_id, "pricing_plan_ids": [plan_id],
        }
        if vehicle_type.max_range_meters is not None:
            item["max_range_meters"] = vehicle_type.max_range_meters
        if vehicle_type.max_permitted_speed_kph is not None:
            item["max_permitted_speed"] = vehicle_type.max_permitted_speed_kph
        item |= {key: feed.text(value) for key, value in (("make", vehicle_type.make),
                                                          ("model", vehicle_type.model)) if value}
        out.append(item)
    return {"vehicle_types": out}


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    points = [point for polygon in _polygons(geometry) for ring in polygon for point in ring]
    return (min(p[0] for p in points), min(p[1] for p in points), max(p[0] for p in points),
            max(p[1] for p in points))


def _station_finder(feed: Feed) -> Callable[[float, float], str | None]:
    """(lat, lon) -> the id of the virtual station the point is in, or None. Most vehicles stand outside every
    station's bounding box and cost two comparisons; the others ask the city's compiled geofence."""
    if not feed.stations:
        return lambda lat, lon: None
    boxes = [_bounds(zone.geometry) for zone in feed.stations]
    compiled = fleet_selectors.geofence_for_city(feed.system.city_id)

    def find(lat: float, lon: float) -> str | None:
        if not any(x0 <= lon <= x1 and y0 <= lat <= y1 for x0, y0, x1, y1 in boxes):
            return None
        for spec in compiled.zones_containing(lon, lat, feed.now):
            if spec.kind in STATION_KINDS:
                return spec.id
        return None

    return find


def _rental_platforms(system: GbfsSystem) -> list[str]:
    """Where the deep link is published: android/ios only with that platform's app in ``rental_apps`` (a viewing
    app needs its store and discovery URIs; MobilityData's validator requires them with ``rental_uris`` in 2.3),
    web for an https link."""
    platforms = [name for name, store in (("android", system.android_store_uri), ("ios", system.ios_store_uri))
                 if store]
    return platforms + (["web"] if system.rental_uri.startswith("https://") else [])


def _vehicles(feed: Feed) -> list[tuple[fleet_gbfs.PublicVehicle, str | None]]:
    """The public vehicles (their JSON built by the database) and the virtual station each stands in."""
    vehicles = fleet_gbfs.public_vehicles(
        city_id=feed.system.city_id, vehicle_type_ids=[t.id for t, _plan in feed.types], mac_pads=ids.mac_pads(),
        id_length=ids.ID_LENGTH, rental_uri=feed.system.rental_uri, rental_platforms=_rental_platforms(feed.system),
        version=VERSIONS[feed.prefix])
    station_of = _station_finder(feed)
    return [(vehicle, station_of(vehicle.lat, vehicle.lon)) for vehicle in vehicles]


def _vehicle_status(feed: Feed) -> Document:
    items = []
    for vehicle, station_id in _vehicles(feed):
        # The database's JSON ends with "}": the station, known only here, goes in before it.
        items.append(vehicle.json if station_id is None else f'{vehicle.json[:-1]},"station_id":"{station_id}"}}')
    return {"bikes" if feed.prefix == "v2" else "vehicles": cache.RawJson(f"[{','.join(items)}]")}


def _polygons(geometry: dict[str, Any]) -> list[Any]:
    return list(geometry["coordinates"]) if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]


def _centroid(geometry: dict[str, Any]) -> tuple[float, float]:
    """(lat, lon) of the area-weighted centroid of the outer rings (the station's point on a map)."""
    polygons = _polygons(geometry)
    area = cx = cy = 0.0
    points: list[list[float]] = []
    for polygon in polygons:
        ring = polygon[0]
        points += ring
        for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
            cross = x0 * y1 - x1 * y0
            area, cx, cy = area + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
    if area == 0:
        return sum(p[1] for p in points) / len(points), sum(p[0] for p in points) / len(points)
    return cy / (3 * area), cx / (3 * area)


def _station_information(feed: Feed) -> Document:
    stations = []
    for zone in feed.stations:
        lat, lon = _centroid(zone.geometry)
        stations.append({
            "station_id": str(zone.id), "name": feed.text(zone.name), "lat": round(lat, 6), "lon": round(lon, 6),
            "is_virtual_station": True, "station_area": zone.geometry,
        })
    return {"stations": stations}


def _station_status(feed: Feed) -> Document:
    stations = feed.stations
    type_codes = {t.id: t.code for t, _plan in feed.types}
    available: Counter[tuple[str, uuid.UUID]] = Counter()
    disabled: Counter[str] = Counter()
    for vehicle, station_id in _vehicles(feed) if stations else []:
        if station_id is None or vehicle.is_reserved:
            continue
        if vehicle.is_disabled:
            disabled[station_id] += 1
        else:
            available[(station_id, vehicle.vehicle_type_id)] += 1
    out = []
    for zone in stations:
        sid = str(zone.id)
        per_type: list[Document] = [{"vehicle_type_id": code, "count": available[(sid, type_id)]}
                                    for type_id, code in type_codes.items()]
        out.append({
            "station_id": sid, "num_vehicles_available": sum(entry["count"] for entry in per_type),
            "num_vehicles_disabled": disabled[sid], "vehicle_types_available": per_type,
            "is_installed": True, "is_renting": zone.ride_start_allowed, "is_returning": zone.ride_end_allowed,
            "last_reported": timestamp(feed.now),
        })
    return {"stations": out}


def _system_pricing_plans(feed: Feed) -> Document:
    wanted = {plan for _type, plan in feed.types}
    plans = billing_selectors.gbfs_pricing_plans(city_slug=feed.system.city.slug, ttl=TTL["system_pricing_plans"])
    out = []
    for plan in plans["data"]["plans"]:  # type: ignore[index]
        if plan["plan_id"] in wanted:
            out.append(plan | {"name": feed.relocalize(plan["name"]),
                               "description": feed.relocalize(plan["description"])})
    return {"plans": out}


def _geofencing_zones(feed: Feed) -> Document:
    data = fleet_selectors.gbfs_geofencing_zones(city_id=feed.system.city_id, ttl=TTL["geofencing_zones"])["data"]
    for feature in data["geofencing_zones"]["features"]:
        properties = feature["properties"]
        if "name" in properties:
            properties["name"] = feed.relocalize(properties["name"])
    return dict(data)


def _system_alerts(feed: Feed) -> Document:
    alerts = (GbfsAlert.objects.filter(system=feed.system).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=feed.now))
              .order_by("starts_at", "id"))
    out = []
    for alert in alerts:
        times = {"start": timestamp(alert.starts_at)} | ({"end": timestamp(alert.ends_at)} if alert.ends_at else {})
        item: Document = {"alert_id": str(alert.id), "type": alert.type, "times": [times],
                          "summary": feed.text(alert.summary), "last_updated": timestamp(alert.updated_at)}
        if alert.description:
            item["description"] = feed.text(alert.description)
        if alert.url:
            item["url"] = feed.text(alert.url)
        out.append(item)
    return {"alerts": out}


BUILDERS: dict[str, Callable[[Feed], Document]] = {
    "gbfs": _gbfs,
    "gbfs_versions": _gbfs_versions,
    "system_information": _system_information,
    "vehicle_types": _vehicle_types,
    "vehicle_status": _vehicle_status,
    "station_information": _station_information,
    "station_status": _station_status,
    "system_pricing_plans": _system_pricing_plans,
    "geofencing_zones": _geofencing_zones,
    "system_alerts": _system_alerts,
}
