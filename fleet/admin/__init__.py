"""Fleet admin for ops: cities, vehicle types, vehicles (filters, bulk actions, event log), zones (map preview)."""

from fleet.admin import catalog, vehicles, zones

__all__ = ["catalog", "vehicles", "zones"]
