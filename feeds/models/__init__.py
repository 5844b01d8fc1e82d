"""Feeds models, one module per feed; import them from ``feeds.models``."""

from feeds.models.gbfs import GbfsAlert, GbfsSystem
from feeds.models.mds import Agency, AgencyCredential, MdsPull

__all__ = ["Agency", "AgencyCredential", "GbfsAlert", "GbfsSystem", "MdsPull"]
