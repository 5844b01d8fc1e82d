from django.urls import URLPattern, URLResolver, path, register_converter

from fleet import cityref, views

register_converter(cityref.CityRefConverter, "city")

urlpatterns: list[URLPattern | URLResolver] = [
    path("vehicles/nearby", views.VehicleNearbyView.as_view(), name="fleet-vehicles-nearby"),
    path("vehicles/<uuid:vehicle_id>/commands", views.VehicleCommandSendView.as_view(), name="fleet-vehicle-commands"),
    path("commands/<uuid:command_id>", views.CommandGetView.as_view(), name="fleet-command"),
    path("zones", views.ZonesAtPointView.as_view(), name="fleet-zones-at-point"),
    path("cities", views.CityListView.as_view(), name="fleet-cities"),
    path("cities/<city:city>", views.CityGetView.as_view(), name="fleet-city"),
    path("cities/<city:city>/zones", views.CityZonesView.as_view(), name="fleet-city-zones"),
    path("ops/alerts", views.OpsAlertListView.as_view(), name="fleet-ops-alerts"),
    path("ops/alerts/<uuid:alert_id>/resolve", views.OpsAlertResolveView.as_view(), name="fleet-ops-alert-resolve"),
    path("ops/tasks", views.OpsTaskListView.as_view(), name="fleet-ops-tasks"),
    path("ops/tasks/<uuid:task_id>", views.OpsTaskDetailView.as_view(), name="fleet-ops-task"),
    path("ops/tasks/<uuid:task_id>/notes", views.OpsTaskNotesView.as_view(), name="fleet-ops-task-notes"),
    path("ops/tasks/<uuid:task_id>/close", views.OpsTaskCloseView.as_view(), name="fleet-ops-task-close"),
    path("ops/tasks/<uuid:task_id>/assign", views.OpsTaskAssignView.as_view(), name="fleet-ops-task-assign"),
]
