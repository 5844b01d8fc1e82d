"""Fleet admin for ops: cities, vehicle types, vehicles (filters, bulk actions, event log), zones (map preview),
ops alerts and tasks."""

from fleet.admin import alerting, catalog, ops, vehicles, zones

__all__ = ["alerting", "catalog", "ops", "vehicles", "zones"]
