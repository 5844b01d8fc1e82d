from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "fleet"

    def ready(self) -> None:
        # AppConfig.ready: the receivers import models and services, which may load only once the apps are ready.
        from fleet import receivers

        receivers.connect()
