"""``/mds/``: the MDS 2.0 Provider API for regulators (docs/mds.md). One view module per endpoint family."""

from django.urls import URLPattern, URLResolver, path, re_path

from feeds.mds.views import base, hourly, recent, reports, telemetry, vehicles

app_name = "mds"
urlpatterns: list[URLPattern | URLResolver] = [
    path("vehicles", vehicles.MdsVehiclesView.as_view(), name="vehicles"),
    path("vehicles/status", vehicles.MdsVehiclesStatusView.as_view(), name="vehicles-status"),
    path("vehicles/status/<uuid:device_id>", vehicles.MdsVehicleStatusView.as_view(), name="vehicle-status"),
    path("vehicles/<uuid:device_id>", vehicles.MdsVehicleView.as_view(), name="vehicle"),
    path("trips", hourly.MdsTripsView.as_view(), name="trips"),
    path("events/historical", hourly.MdsEventsHistoricalView.as_view(), name="events-historical"),
    path("events/recent", recent.MdsEventsRecentView.as_view(), name="events-recent"),
    path("telemetry", telemetry.MdsTelemetryView.as_view(), name="telemetry"),
    # Any file name: one that is not a month answers 404 report_not_found in MDS's shape (not the site's HTML 404).
    re_path(r"^reports/(?P<filename>[^/]+)$", reports.MdsReportView.as_view(), name="report"),
    re_path(r"^", base.MdsNotFoundView.as_view(), name="not-found"),  # last: MDS's 404 for every other path
]
