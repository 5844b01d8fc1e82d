"""Feeds admin, one module per feed."""

from feeds.admin import gbfs, mds

__all__ = ["gbfs", "mds"]
