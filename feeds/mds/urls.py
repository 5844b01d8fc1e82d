"""``/mds/``: the MDS 2.0 Provider API for regulators (docs/mds.md). One view module per endpoint family."""

from django.urls import URLPattern, URLResolver, path

from feeds.mds.views import vehicles

app_name = "mds"
urlpatterns: list[URLPattern | URLResolver] = [
    path("vehicles", vehicles.MdsVehiclesView.as_view(), name="vehicles"),
    path("vehicles/status", vehicles.MdsVehiclesStatusView.as_view(), name="vehicles-status"),
    path("vehicles/status/<uuid:device_id>", vehicles.MdsVehicleStatusView.as_view(), name="vehicle-status"),
    path("vehicles/<uuid:device_id>", vehicles.MdsVehicleView.as_view(), name="vehicle"),
]
