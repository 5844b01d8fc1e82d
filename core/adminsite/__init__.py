"""The admin app, in ``INSTALLED_APPS`` in place of ``django.contrib.admin``: Django's admin with the project's
site, whose every model admin records its edits in the audit log (``core.admin_audit``, docs/audit.md).

A package of its own, so that the entry in ``INSTALLED_APPS`` is a package like every other (``manage.py`` looks
for management commands in each); its ``apps`` module holds the one AppConfig, ``FreewheelAdminConfig``."""
