from django.urls import URLPattern, URLResolver, path

from telemetry import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("telemetry", views.TelemetryIngestView.as_view(), name="telemetry-ingest"),
]
