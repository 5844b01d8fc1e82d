"""Writes of the accounts app. ``notify`` is what other apps call to tell a user something."""

from accounts.services.devices import device_register, device_unregister
from accounts.services.notification_preferences import notification_preferences_update
from accounts.services.notifications import notification_mark_read, notify

__all__ = ["device_register", "device_unregister", "notification_mark_read", "notification_preferences_update",
           "notify"]
