from django.apps import AppConfig


class RidesConfig(AppConfig):
    name = "rides"

    def ready(self) -> None:
        from rides import signals

        signals.connect()
