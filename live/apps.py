from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"

    def ready(self) -> None:
        from core.metrics import register_collector
        from live.metrics import LiveCollector

        register_collector(LiveCollector())
