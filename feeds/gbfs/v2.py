"""GBFS 2.3 documents, derived from the 3.0 ones (``feeds.gbfs.selectors``) for consumers still on 2.3.

What changes: ``last_updated`` and every timestamp become POSIX seconds, ``version`` is ``"2.3"``, localized text
arrays become one string in the system's first language, ``vehicle_status`` is ``free_bike_status`` with
``bikes``/``bike_id`` (rendered so by the database already: ``feeds.gbfs.selectors``), station counts say ``bikes``, geofencing rules have ``ride_allowed`` (start and end) and no
``global_rules`` (2.3 cannot say "no ride may end outside the operating area"), and fields 2.3 lacks are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

Document = dict[str, Any]
V3_NAME = {"free_bike_status": "vehicle_status"}  # 2.3 file -> the 3.0 document it is derived from


def posix(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp())


def _text(items: list[dict[str, str]], language: str) -> str:
    return next((item["text"] for item in items if item["language"] == language), items[0]["text"])


def _texts(item: Document, fields: tuple[str, ...], language: str) -> Document:
    return item | {field: _text(item[field], language) for field in fields if field in item}


def convert(name: str, document: Document, language: str) -> Document:
    """The 2.3 file ``name`` (a 2.3 file name) from the 3.0 ``document`` it derives from."""
    data = _CONVERTERS.get(name, lambda data, language: data)(document["data"], language)
    return {"last_updated": posix(document["last_updated"]), "ttl": document["ttl"], "version": "2.3", "data": data}


def _system_information(data: Document, language: str) -> Document:
    out = _texts(data, ("name", "short_name", "operator", "terms_url", "privacy_url"), language)
    for field in ("languages", "opening_hours", "manifest_url", "license_id", "termination_date",
                  "attribution_organization_name", "attribution_url"):
        out.pop(field, None)
    return out | {"language": language}


def _vehicle_types(data: Document, language: str) -> Document:
    fields = ("name", "make", "model", "description")
    return {"vehicle_types": [_texts(item, fields, language) for item in data["vehicle_types"]]}


def _station_information(data: Document, language: str) -> Document:
    return {"stations": [_texts(station, ("name", "short_name"), language) for station in data["stations"]]}


_STATUS_RENAMES = {"num_vehicles_available": "num_bikes_available", "num_vehicles_disabled": "num_bikes_disabled"}


def _station_status(data: Document, language: str) -> Document:
    stations = []
    for station in data["stations"]:
        item = {_STATUS_RENAMES.get(key, key): value for key, value in station.items()}
        stations.append(item | {"last_reported": posix(station["last_reported"])})
    return {"stations": stations}


def _system_pricing_plans(data: Document, language: str) -> Document:
    return {"plans": [_texts(plan, ("name", "description"), language) for plan in data["plans"]]}


def _rule(rule: Document) -> Document:
    out: Document = {"ride_allowed": rule["ride_start_allowed"] and rule["ride_end_allowed"],
                     "ride_through_allowed": rule["ride_through_allowed"]}
    if "vehicle_type_ids" in rule:
        out["vehicle_type_id"] = rule["vehicle_type_ids"]
    out |= {key: rule[key] for key in ("maximum_speed_kph", "station_parking") if key in rule}
    return out


def _geofencing_zones(data: Document, language: str) -> Document:
    features = []
    for feature in data["geofencing_zones"]["features"]:
        properties = _texts(feature["properties"], ("name",), language)
        properties |= {key: posix(properties[key]) for key in ("start", "end") if key in properties}
        properties["rules"] = [_rule(rule) for rule in properties.get("rules", [])]
        features.append(feature | {"properties": properties})
    return {"geofencing_zones": {"type": "FeatureCollection", "features": features}}


def _system_alerts(data: Document, language: str) -> Document:
    alerts = []
    for alert in data["alerts"]:
        item = _texts(alert, ("summary", "description", "url"), language)
        item["times"] = [{key: posix(value) for key, value in period.items()} for period in alert["times"]]
        if "last_updated" in item:
            item["last_updated"] = posix(item["last_updated"])
        alerts.append(item)
    return {"alerts": alerts}


_CONVERTERS: dict[str, Callable[[Document, str], Document]] = {
    "system_information": _system_information,
    "vehicle_types": _vehicle_types,
    "station_information": _station_information,
    "station_status": _station_status,
    "system_pricing_plans": _system_pricing_plans,
    "geofencing_zones": _geofencing_zones,
    "system_alerts": _system_alerts,
}
