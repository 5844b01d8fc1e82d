from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"

    def ready(self) -> None:
        from core.metrics import register_collector
        from telemetry.metrics import TelemetryCollector

        register_collector(TelemetryCollector())
