"""``/mds/vehicles``, ``/mds/vehicles/{device_id}``, ``/mds/vehicles/status``, ``/mds/vehicles/status/{device_id}``.

Derived from fleet's vehicles and their event log (``fleet.selectors``); paginated by ``device_id``
(``feeds.mds.pagination``). Both are near-realtime endpoints: ``last_updated`` is when the answer was read (it is
read from the database at each request) and ``ttl`` is 0 (always refresh).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from feeds.mds import pagination, records
from feeds.mds.views.base import MdsView
from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors

# MDS /vehicles: "every vehicle that has been deployed ... in the last 30 days".
DEPLOYED_WITHIN = timedelta(days=30)
# MDS /vehicles/status: elsewhere, removed and missing vehicles "must only persist in the feed for 90 minutes".
OFF_STREET_KEPT = timedelta(minutes=90)

_PAGE_PARAMETERS = [
    OpenApiParameter("city", str, description="Slug of one of the agency's cities (default: all of them)"),
    OpenApiParameter("cursor", str, description="Opaque position, from a `links.next` URL"),
    OpenApiParameter("limit", int, description=f"Page size, 1-{pagination.MAX_LIMIT} "
                                               f"(default {pagination.DEFAULT_LIMIT})"),
]
_CITY_PARAMETER = [_PAGE_PARAMETERS[0]]
_Links = inline_serializer("MdsLinks", {"first": serializers.URLField(), "next": serializers.URLField(allow_null=True)})


def _objects(model: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.DictField(), help_text=f"MDS 2.0 {model} objects (mds-openapi)")


def _answer(name: str, key: str, model: str, *, paged: bool) -> serializers.Serializer:
    """An MDS answer's OpenAPI description: the common head, ``links`` on a page of a list, then the objects."""
    fields: dict[str, serializers.Field] = {
        "version": serializers.CharField(), "last_updated": serializers.IntegerField(),
        "ttl": serializers.IntegerField(),
    }
    if paged:
        fields["links"] = _Links
    fields[key] = _objects(model)
    return inline_serializer(name, fields)


VehiclesOut = _answer("MdsVehiclesOut", "vehicles", "models/vehicle.yaml", paged=True)
VehicleOut = _answer("MdsVehicleOut", "vehicles", "models/vehicle.yaml", paged=False)
VehiclesStatusOut = _answer("MdsVehiclesStatusOut", "vehicles_status", "models/vehicle-status.yaml", paged=True)
VehicleStatusOut = _answer("MdsVehicleStatusOut", "vehicles_status", "models/vehicle-status.yaml", paged=False)


def _uuid_key(parts: list[str]) -> uuid.UUID:
    (device_id,) = parts
    return uuid.UUID(device_id)


def _status_record(status: fleet_selectors.MdsVehicleStatus) -> dict[str, Any]:
    v = status.vehicle
    assert v.lat is not None and v.lon is not None  # the selector leaves out vehicles never located
    return {
        "device_id": v.id,
        "provider_id": records.provider_id(),
        "last_event": records.event(status.last_event, fallback_location=(v.lat, v.lon)),
        "last_telemetry": records.vehicle_telemetry(v),
    }


class MdsVehiclesView(MdsView):
    @extend_schema(operation_id="mds_vehicles", tags=["mds"], parameters=_PAGE_PARAMETERS,
                   responses={200: VehiclesOut},
                   summary="MDS /vehicles: vehicles deployed in the agency's cities in the last 30 days")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        vehicles, links = pagination.paginate(
            request, decode=_uuid_key, key=lambda v: [str(v.id)],
            fetch=lambda after, n: fleet_selectors.mds_vehicles(
                city_ids=self.city_ids, deployed_since=now - DEPLOYED_WITHIN, after=after, limit=n),
        )
        return self.answer({"last_updated": now, "ttl": 0, "links": links,
                            "vehicles": [records.vehicle(v) for v in vehicles]}, rows=len(vehicles))


class MdsVehicleView(MdsView):
    domain_errors = (*MdsView.domain_errors, fleet_errors.VehicleNotFound)

    @extend_schema(operation_id="mds_vehicle", tags=["mds"], parameters=_CITY_PARAMETER,
                   responses={200: VehicleOut}, summary="MDS /vehicles/{device_id}: one vehicle, whenever deployed")
    def get(self, request: Request, device_id: uuid.UUID) -> Response:
        vehicle = fleet_selectors.mds_vehicle_get(city_ids=self.city_ids, vehicle_id=device_id)
        return self.answer({"last_updated": timezone.now(), "ttl": 0, "vehicles": [records.vehicle(vehicle)]}, rows=1)


class MdsVehiclesStatusView(MdsView):
    @extend_schema(operation_id="mds_vehicles_status", tags=["mds"], parameters=_PAGE_PARAMETERS,
                   responses={200: VehiclesStatusOut},
                   summary="MDS /vehicles/status: last event and position of the agency's vehicles")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        found, links = pagination.paginate(
            request, decode=_uuid_key, key=lambda s: [str(s.vehicle.id)],
            fetch=lambda after, n: fleet_selectors.mds_vehicles_status(
                city_ids=self.city_ids, now=now, off_street_for=OFF_STREET_KEPT, after=after, limit=n),
        )
        return self.answer({"last_updated": now, "ttl": 0, "links": links,
                            "vehicles_status": [_status_record(s) for s in found]}, rows=len(found))


class MdsVehicleStatusView(MdsView):
    domain_errors = (*MdsView.domain_errors, fleet_errors.VehicleNotFound)

    @extend_schema(operation_id="mds_vehicle_status", tags=["mds"], parameters=_CITY_PARAMETER,
                   responses={200: VehicleStatusOut},
                   summary="MDS /vehicles/status/{device_id}: one vehicle's last event and position")
    def get(self, request: Request, device_id: uuid.UUID) -> Response:
        now = timezone.now()
        found = fleet_selectors.mds_vehicles_status(city_ids=self.city_ids, now=now, off_street_for=OFF_STREET_KEPT,
                                                    vehicle_id=device_id, limit=1)
        if not found:
            raise fleet_errors.VehicleNotFound()
        return self.answer({"last_updated": now, "ttl": 0, "vehicles_status": [_status_record(found[0])]}, rows=1)
