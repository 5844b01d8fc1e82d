"""Feeds admin, one module per feed."""

from feeds.admin import mds

__all__ = ["mds"]
