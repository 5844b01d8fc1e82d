"""Every read of the fleet app that other apps, views and consumers use (``from fleet import selectors``)."""

from fleet.selectors.cities import (
    cities_all,
    city_exists,
    city_get_by_slug,
    city_ids_by_slug,
    only_city_timezone,
    vehicle_types_by_code,
)
from fleet.selectors.commands import (
    command_get,
    command_state,
    commands_acked,
    commands_with_key,
    vehicle_commands_recent,
)
from fleet.selectors.credentials import VehicleIdentity, credentials_bounded, vehicle_authenticate
from fleet.selectors.events import (
    city_events_between,
    city_form_factors,
    city_operated_before,
    city_timezones,
    city_vehicle_ids,
)
from fleet.selectors.mds import (
    MdsVehicleStatus,
    cities_by_slug,
    mds_vehicle_get,
    mds_vehicles,
    mds_vehicles_status,
)
from fleet.selectors.nearby import NearbyVehicle, check_point, register_pricing_plan_resolver, vehicles_nearby
from fleet.selectors.ops import (
    ops_alert_get,
    ops_alerts_list,
    ops_task_get,
    ops_tasks_list,
    vehicles_awaiting_lock,
)
from fleet.selectors.vehicles import (
    vehicle_get,
    vehicle_get_by_code,
    vehicle_is_moving,
    vehicle_is_silent,
    vehicle_normal_speed_limits,
    vehicle_status_counts,
    vehicles_available,
    vehicles_in_city,
    vehicles_silent,
)
from fleet.selectors.zones import (
    city_zones,
    feature_collection,
    gbfs_geofencing_zones,
    geofence_for_city,
    zones_at_point,
)

__all__ = [
    "MdsVehicleStatus",
    "NearbyVehicle",
    "VehicleIdentity",
    "check_point",
    "cities_all",
    "cities_by_slug",
    "city_exists",
    "city_get_by_slug",
    "city_ids_by_slug",
    "city_events_between",
    "city_form_factors",
    "city_operated_before",
    "city_timezones",
    "only_city_timezone",
    "city_vehicle_ids",
    "city_zones",
    "command_get",
    "command_state",
    "commands_acked",
    "commands_with_key",
    "credentials_bounded",
    "feature_collection",
    "gbfs_geofencing_zones",
    "geofence_for_city",
    "mds_vehicle_get",
    "mds_vehicles",
    "mds_vehicles_status",
    "ops_alert_get",
    "ops_alerts_list",
    "ops_task_get",
    "ops_tasks_list",
    "register_pricing_plan_resolver",
    "vehicle_authenticate",
    "vehicle_commands_recent",
    "vehicle_get",
    "vehicle_get_by_code",
    "vehicle_is_moving",
    "vehicle_is_silent",
    "vehicle_normal_speed_limits",
    "vehicle_status_counts",
    "vehicle_types_by_code",
    "vehicles_available",
    "vehicles_awaiting_lock",
    "vehicles_in_city",
    "vehicles_nearby",
    "vehicles_silent",
    "zones_at_point",
]
