"""Writes of the accounts app. ``notify`` is what other apps call to tell a user something."""

from accounts.services.notifications import notification_mark_read, notify

__all__ = ["notification_mark_read", "notify"]
