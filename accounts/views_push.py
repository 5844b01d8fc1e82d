"""Devices that receive pushes and the rider's notification preferences (docs/accounts.md "Push notifications")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts import serializers as s
from accounts.auth import signed_in_user
from accounts.services import devices, notification_preferences
from core.schema import error_responses

TAG = ["me"]
INSTALL_ID = OpenApiParameter(
    "install_id", str, OpenApiParameter.PATH, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
    description="the app's id of this install (e.g. a UUID it generated on first start)")


def _first_language(header: str) -> str:
    """The first tag of an Accept-Language header (``de-DE,de;q=0.9,en;q=0.8`` -> ``de-DE``)."""
    return header.split(",")[0].split(";")[0].strip()[:35]


class DeviceListView(APIView):
    @extend_schema(tags=TAG, summary="Your app installs registered for pushes, the latest first",
                   responses={200: s.DeviceOut(many=True)})
    def get(self, request: Request) -> Response:
        found = selectors.devices_of(user=signed_in_user(request))
        return Response(s.DeviceOut(found, many=True).data)


class DeviceView(APIView):
    @extend_schema(
        tags=TAG, request=s.DeviceRegisterIn, parameters=[INSTALL_ID], operation_id="me_devices_register",
        summary="Register this install's push token (again at every start and whenever the token changes)",
        responses={200: s.DeviceOut, 201: s.DeviceOut, **error_responses(**{"400": "validation_error"})},
    )
    def put(self, request: Request, install_id: str) -> Response:
        data = s.DeviceRegisterIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        if not fields["locale"]:
            fields["locale"] = _first_language(request.headers.get("Accept-Language", ""))
        device, created = devices.device_register(user=signed_in_user(request), install_id=install_id, **fields)
        return Response(s.DeviceOut(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(tags=TAG, parameters=[INSTALL_ID], responses={204: None}, operation_id="me_devices_unregister",
                   summary="Stop pushes to this install (on sign-out); an install not registered is no error")
    def delete(self, request: Request, install_id: str) -> Response:
        devices.device_unregister(user=signed_in_user(request), install_id=install_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationPreferencesView(APIView):
    @extend_schema(tags=TAG, summary="Which notifications reach your phone, quiet hours, language",
                   responses={200: s.NotificationPreferencesOut})
    def get(self, request: Request) -> Response:
        return Response(s.NotificationPreferencesOut(
            selectors.notification_preferences_of(user=signed_in_user(request))).data)

    @extend_schema(
        tags=TAG, request=s.NotificationPreferencesIn,
        summary="Change push categories, quiet hours, language or time zone (what is left out stays)",
        responses={200: s.NotificationPreferencesOut,
                   **error_responses(**{"400": "validation_error", "422": "notification_category_required"})},
    )
    def patch(self, request: Request) -> Response:
        data = s.NotificationPreferencesIn(data=request.data)
        data.is_valid(raise_exception=True)
        changes: dict[str, Any] = {}
        given = data.validated_data
        if "push" in given:
            changes["push"] = given["push"]
        if "quiet_hours" in given:
            quiet = given["quiet_hours"]
            changes["quiet_hours"] = (quiet["start"], quiet["end"]) if quiet else None
        for name in ("language", "time_zone"):
            if name in given:
                changes[name] = given[name]
        user = signed_in_user(request)
        notification_preferences.notification_preferences_update(user=user, **changes)
        return Response(s.NotificationPreferencesOut(selectors.notification_preferences_of(user=user)).data)
