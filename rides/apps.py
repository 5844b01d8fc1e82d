from django.apps import AppConfig


class RidesConfig(AppConfig):
    name = "rides"

    def ready(self) -> None:
        # AppConfig.ready: the receivers import models and services, which may load only once the apps are ready.
        from rides import signals

        signals.connect()
