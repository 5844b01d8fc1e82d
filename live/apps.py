from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"

    def ready(self) -> None:
        # AppConfig.ready: the collector reads settings and the cache, loaded only once the apps are ready.
        from core.metrics import register_collector
        from live.metrics import LiveCollector

        register_collector(LiveCollector())
