"""Feeds models, one module per feed; import them from ``feeds.models``."""

from feeds.models.mds import Agency, AgencyCredential, MdsPull

__all__ = ["Agency", "AgencyCredential", "MdsPull"]
