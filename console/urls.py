"""The fleet map under the admin's URL (``/admin/map/``), included by config/urls.py before the admin's own."""

from django.contrib import admin
from django.urls import URLPattern, path

from console import views

_ = admin.site.admin_view  # staff only, signed in (else the admin's login), CSRF-protected, never cached

urlpatterns: list[URLPattern] = [
    path("", _(views.map_page), name="console-map"),
    path("ticket", _(views.map_ticket), name="console-map-ticket"),
    path("layers/<uuid:city_id>", _(views.map_layers), name="console-map-layers"),
    path("vehicles/<uuid:vehicle_id>", _(views.map_vehicle), name="console-map-vehicle"),
    path("vehicles/<uuid:vehicle_id>/command", _(views.map_command), name="console-map-command"),
    path("vehicles/<uuid:vehicle_id>/task", _(views.map_task), name="console-map-task"),
]
