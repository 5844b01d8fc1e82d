"""Fleet HTTP edge: parse, call one selector or service, serialize."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, pagination, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as accounts_selectors
from accounts.permissions import HasPerm
from core import uploads
from core.keys import digest_key
from core.pagination import CursorPagination
from core.parsers import JSONParser, MultiPartParser
from core.schema import error_responses
from fleet import catalogue, cityref, errors, selectors, serializers, services
from fleet.models import OpsAlert, OpsTask


def _valid(serializer_class: type[Any], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class VehicleNearbyView(APIView):
    domain_errors = (errors.InvalidCoordinates, errors.RadiusTooLarge)
    @extend_schema(parameters=[serializers.VehicleNearbyIn], responses=serializers.VehicleNearbyListOut,
                   tags=["fleet"], summary="Rentable vehicles near a point, nearest first")
    def get(self, request: Request) -> Response:
        query = _valid(serializers.VehicleNearbyIn, request.query_params)
        found = selectors.vehicles_nearby(lat=query["lat"], lon=query["lon"], radius_m=query.get("radius"),
                                          vehicle_type=query.get("type"), min_battery=query.get("min_battery"))
        return Response(serializers.VehicleNearbyListOut({"results": found}).data)


class ZonesAtPointView(APIView):
    domain_errors = (errors.InvalidCoordinates,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[serializers.ZonesAtPointIn], responses=serializers.ZoneFeatureCollectionOut,
                   tags=["fleet"], summary="Active zones containing a point (GeoJSON)")
    def get(self, request: Request) -> Response:
        query = _valid(serializers.ZonesAtPointIn, request.query_params)
        selectors.check_point(query["lat"], query["lon"])
        return Response(selectors.feature_collection(selectors.zones_at_point(lat=query["lat"], lon=query["lon"])))


_CITY_PARAMETER = OpenApiParameter("city", str, OpenApiParameter.PATH, description=cityref.CITY_REF_HELP)


class CityListView(APIView):
    permission_classes = [AllowAny]  # what GBFS publishes anyway: a rider browses cities before signing up

    @extend_schema(responses={200: serializers.CityListOut, 304: OpenApiResponse(description="Not modified")},
                   tags=["fleet"],
                   summary="Operating cities (id, slug, name, bounding box, currency, time zone, links)")
    def get(self, request: Request) -> Response:
        body = serializers.CityListOut({"results": catalogue.cities_public()}).data
        return catalogue.cacheable(request, body)


class CityGetView(APIView):
    domain_errors = (errors.CityNotFound,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[_CITY_PARAMETER],
                   responses={200: serializers.CityOut, 304: OpenApiResponse(description="Not modified")},
                   tags=["fleet"], summary="One city, by id or slug")
    def get(self, request: Request, city: str) -> Response:
        body = serializers.CityOut(catalogue.city_public(ref=city)).data
        return catalogue.cacheable(request, body)


class CityZonesView(APIView):
    domain_errors = (errors.CityNotFound,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[_CITY_PARAMETER], responses=serializers.ZoneFeatureCollectionOut, tags=["fleet"],
                   summary="A city's active zones as GeoJSON (GBFS geofencing_zones features)")
    def get(self, request: Request, city: str) -> Response:
        found = selectors.city_get(ref=city)
        return Response(selectors.feature_collection(selectors.city_zones(city_id=found.id)))


class VehicleCommandSendView(APIView):
    domain_errors = (errors.VehicleNotFound, errors.VehicleRetired, errors.VehicleMoving, errors.CommandInvalid, errors.CommandIdempotencyConflict)
    permission_classes = [HasPerm("fleet.add_command")]

    @extend_schema(request=serializers.VehicleCommandIn, responses={202: serializers.VehicleCommandOut},
                   tags=["fleet ops"], summary="Queue a command to a vehicle (Idempotency-Key: same key, same command)")
    def post(self, request: Request, vehicle_id: uuid.UUID) -> Response:
        data = _valid(serializers.VehicleCommandIn, request.data)
        selectors.staff_vehicle_check(user=request.user, vehicle_id=vehicle_id)
        key = request.headers.get("Idempotency-Key")
        command = services.command_queue(
            vehicle_id=vehicle_id, kind=data["kind"], params=data.get("params"), actor=request.user, audited=True,
            # The client's key (up to 255 characters) is digested: Command.idempotency_key is 100.
            idempotency_key=digest_key("api", request.user.pk, key) if key else None,
        )
        return Response(serializers.VehicleCommandOut(command).data, status=status.HTTP_202_ACCEPTED)


class CommandGetView(APIView):
    domain_errors = (errors.CommandNotFound,)
    permission_classes = [HasPerm("fleet.view_command")]

    @extend_schema(responses=serializers.VehicleCommandOut, tags=["fleet ops"], summary="A command and its state")
    def get(self, request: Request, command_id: uuid.UUID) -> Response:
        selectors.staff_command_check(user=request.user, command_id=command_id)
        command = selectors.command_get(command_id=command_id)
        return Response(serializers.VehicleCommandOut(command).data)


class OpsAlertPagination(CursorPagination):
    ordering = "-opened_at"


def _list_query(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    return _valid(serializer_class, request.query_params)


def _city_id(query: dict[str, Any]) -> uuid.UUID | None:
    return query["city"].id if query.get("city") else None


class OpsAlertListView(generics.ListAPIView[OpsAlert]):
    domain_errors = (errors.CityNotFound,)
    permission_classes = [HasPerm("fleet.view_opsalert")]
    serializer_class = serializers.OpsAlertOut
    pagination_class = OpsAlertPagination

    @extend_schema(parameters=[serializers.OpsAlertListIn], tags=["fleet ops"],
                   summary="Ops alerts (tipped over, tamper, no-ride zone), newest first; open ones by default")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        query = _list_query(serializers.OpsAlertListIn, self.request)
        alerts = selectors.ops_alerts_list(city_id=_city_id(query), kind=query.get("kind"), state=query["state"],
                                           vehicle_id=query.get("vehicle"))
        return selectors.staff_scope(alerts, user=self.request.user, path="city")


class OpsAlertResolveView(APIView):
    permission_classes = [HasPerm("fleet.change_opsalert")]

    @extend_schema(request=None, responses={200: serializers.OpsAlertOut, **error_responses(**{"404": "ops_alert_not_found"})},
                   tags=["fleet ops"], summary="Resolve an alert (resolving it again changes nothing)")
    def post(self, request: Request, alert_id: uuid.UUID) -> Response:
        selectors.staff_ops_alert_check(user=request.user, alert_id=alert_id)
        services.ops_alert_resolve(alert_id=alert_id, actor=request.user)
        return Response(serializers.OpsAlertOut(selectors.ops_alert_get(alert_id=alert_id)).data)


class OpsTaskPagination(pagination.LimitOffsetPagination):
    """Priority and distance are no cursor's ordering: a technician's list pages by offset."""

    default_limit, max_limit = 50, 200


class OpsTaskListView(generics.ListAPIView[OpsTask]):
    domain_errors = (errors.InvalidCoordinates, errors.CityNotFound)
    permission_classes = [HasPerm("fleet.view_opstask")]
    serializer_class = serializers.OpsTaskOut
    pagination_class = OpsTaskPagination

    @extend_schema(parameters=[serializers.OpsTaskListIn], tags=["fleet ops"],
                   summary="Ops tasks by priority (1 urgent first), then distance from lat/lon, then oldest; "
                           "active by default")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        query = _list_query(serializers.OpsTaskListIn, self.request)
        tasks = selectors.ops_tasks_for_technician(
            lat=query.get("lat"), lon=query.get("lon"), city_id=_city_id(query), kind=query.get("kind"),
            state=query["state"], vehicle_id=query.get("vehicle"),
            assignee_id=self.request.user.pk if query["mine"] else None)
        return selectors.staff_scope(tasks, user=self.request.user, path="city")

    @extend_schema(request=serializers.OpsTaskCreateIn,
                   responses={201: serializers.OpsTaskOut, **error_responses(**{"404": "vehicle_not_found"})},
                   tags=["fleet ops"], summary="Open a task for a vehicle by hand (the open one of that kind if any)")
    def post(self, request: Request) -> Response:
        if not request.user.has_perm("fleet.add_opstask"):
            raise PermissionDenied()
        data = _valid(serializers.OpsTaskCreateIn, request.data)
        selectors.staff_vehicle_check(user=request.user, vehicle_id=data["vehicle"])
        task = services.ops_task_create(vehicle_id=data["vehicle"], kind=data["kind"], actor=request.user,
                                        reason=data.get("reason", ""), priority=data.get("priority"))
        return Response(serializers.OpsTaskOut(selectors.ops_task_get(task_id=task.id)).data,
                        status=status.HTTP_201_CREATED)


class OpsTaskDetailView(APIView):
    domain_errors = (errors.OpsTaskNotFound, errors.OpsTaskClosed)
    permission_classes = [HasPerm("fleet.view_opstask")]

    @extend_schema(responses=serializers.OpsTaskOut, tags=["fleet ops"], summary="One task")
    def get(self, request: Request, task_id: uuid.UUID) -> Response:
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        return Response(serializers.OpsTaskOut(selectors.ops_task_get(task_id=task_id)).data)

    @extend_schema(request=serializers.OpsTaskUpdateIn,
                   responses={200: serializers.OpsTaskOut,
                              **error_responses(**{"404": "ops_task_not_found", "409": "ops_task_closed"})},
                   tags=["fleet ops"], summary="Reprioritise an open task (technicians' lists follow live)")
    def patch(self, request: Request, task_id: uuid.UUID) -> Response:
        if not request.user.has_perm("fleet.change_opstask"):
            raise PermissionDenied()
        data = _valid(serializers.OpsTaskUpdateIn, request.data)
        services.ops_task_set_priority(task_id=task_id, priority=data["priority"], actor=request.user)
        return Response(serializers.OpsTaskOut(selectors.ops_task_get(task_id=task_id)).data)


class OpsTaskCloseView(APIView):
    domain_errors = (errors.OpsTaskNotFound,)
    permission_classes = [HasPerm("fleet.change_opstask")]

    @extend_schema(request=serializers.OpsTaskCloseIn, responses={200: serializers.OpsTaskOut},
                   tags=["fleet ops"],
                   summary="Close a task as done, not done or cancelled; done puts the vehicle back in service "
                           "where no other open task holds it (closing again changes nothing)")
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        data = _valid(serializers.OpsTaskCloseIn, request.data)
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        services.ops_task_close(task_id=task_id, actor=request.user, outcome=data["outcome"],
                                note=data.get("note", ""))
        return Response(serializers.OpsTaskOut(selectors.ops_task_get(task_id=task_id)).data)


class OpsTaskAssignView(APIView):
    domain_errors = (errors.OpsTaskNotFound, errors.OpsTaskClosed, errors.AssigneeInvalid)
    permission_classes = [HasPerm("fleet.change_opstask")]

    @extend_schema(request=serializers.OpsTaskAssignIn, responses={200: serializers.OpsTaskOut},
                   tags=["fleet ops"], summary="Take an open task, or give it to a colleague (assignee)")
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        data = _valid(serializers.OpsTaskAssignIn, request.data)
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        assignee: Any = request.user
        if data.get("assignee") is not None:
            assignee = accounts_selectors.user_get(user_id=data["assignee"])
            if assignee is None or not (assignee.is_active and assignee.is_staff
                                        and assignee.has_perm("fleet.change_opstask")):
                raise errors.AssigneeInvalid()
            # A colleague who does not work in the task's city could not see it.
            selectors.staff_row_check(user=assignee, model=OpsTask, pk=task_id, path="city",
                                      error=errors.AssigneeInvalid)
        services.ops_task_assign(task_id=task_id, assignee=assignee, actor=request.user)
        return Response(serializers.OpsTaskOut(selectors.ops_task_get(task_id=task_id)).data)


class OpsTaskNotesView(APIView):
    domain_errors = (errors.OpsTaskNotFound, errors.OpsTaskNoteEmpty, uploads.UploadTooLarge,
                     uploads.UploadTypeUnsupported)
    permission_classes = [HasPerm("fleet.view_opstasknote")]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(responses=serializers.OpsTaskNoteOut(many=True), tags=["fleet ops"],
                   summary="A task's notes and photos, oldest first")
    def get(self, request: Request, task_id: uuid.UUID) -> Response:
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        selectors.ops_task_get(task_id=task_id)
        notes = selectors.ops_task_notes(task_id=task_id)
        return Response(serializers.OpsTaskNoteOut(notes, many=True).data)

    @extend_schema(request={"multipart/form-data": serializers.OpsTaskNoteIn,
                            "application/json": serializers.OpsTaskNoteIn},
                   responses={201: serializers.OpsTaskNoteOut}, tags=["fleet ops"],
                   summary="Add a note, a photo (camera) or both to a task")
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        if not request.user.has_perm("fleet.add_opstasknote"):
            raise PermissionDenied()
        data = _valid(serializers.OpsTaskNoteIn, request.data)
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        note = services.ops_task_note_add(task_id=task_id, author=request.user, text=data.get("text", ""),
                                          photo=data.get("photo"))
        return Response(serializers.OpsTaskNoteOut(note).data, status=status.HTTP_201_CREATED)
