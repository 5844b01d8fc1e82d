from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import schema, signals  # noqa: F401 - schema registers the OpenAPI auth extension

        post_migrate.connect(signals.roles_sync_after_migrate, dispatch_uid="accounts.roles_sync")
