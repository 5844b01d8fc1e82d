from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"

    def ready(self) -> None:
        # AppConfig.ready: the collector reads models and settings, loaded only once the apps are ready.
        from core.metrics import register_collector
        from telemetry.metrics import TelemetryCollector

        register_collector(TelemetryCollector())
