from django.apps import AppConfig


class RidesConfig(AppConfig):
    name = "rides"

    def ready(self) -> None:
        # AppConfig.ready: the receivers import models and services, which may load only once the apps are ready.
        from accounts import requirements
        from rides import requirements as ride_requirements
        from rides import signals

        signals.connect()
        requirements.register_provider("rides", ride_requirements.ride_requirements)
