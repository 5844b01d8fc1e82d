from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The ops console: the admin home's KPI dashboard per city (docs/console.md).

    It reads rides, billing and fleet through their selectors only, and owns one thing: the hourly rollup of
    those figures that keeps the dashboard fast (``CityHourRollup``, rebuilt by a beat task).
    """

    name = "console"

    def ready(self) -> None:
        from django.contrib import admin

        # The stock admin index with the dashboard above the list of models (a public AdminSite attribute).
        admin.site.index_template = "console/admin_index.html"
        # Staff see the product's name, not the framework's (public AdminSite attributes).
        admin.site.site_header = admin.site.site_title = "Freewheel ops"
        admin.site.index_title = "Dashboard"
