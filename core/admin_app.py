"""The admin app's configuration (in ``INSTALLED_APPS`` in place of ``django.contrib.admin``).

A module of its own: ``core/apps.py`` must hold one AppConfig only, and this one is loaded before any model."""

from django.contrib.admin.apps import AdminConfig


class FreewheelAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the project's site (``core.admin_audit.FreewheelAdminSite``): every model
    admin registered on it records its edits in the audit log (docs/audit.md)."""

    default_site = "core.admin_audit.FreewheelAdminSite"
