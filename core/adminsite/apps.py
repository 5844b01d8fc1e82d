from django.contrib.admin import apps as admin_apps


class FreewheelAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` (its name and label) with ``core.admin_audit.FreewheelAdminSite`` as ``admin.site``."""

    default_site = "core.admin_audit.FreewheelAdminSite"
