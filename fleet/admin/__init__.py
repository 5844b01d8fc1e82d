"""Fleet admin for ops: cities, vehicle types, vehicles (filters, bulk actions, event log), zones (map preview),
ops alerts and tasks."""

from fleet.admin import catalog, ops, vehicles, zones

__all__ = ["catalog", "ops", "vehicles", "zones"]
