"""The technicians' task page under ``/ops/tasks/`` (fleet.pages), included by config/urls.py."""

from django.contrib import admin
from django.urls import URLPattern, path

from fleet import pages

_ = admin.site.admin_view  # staff only, signed in (else the admin's login), CSRF-protected, never cached

urlpatterns: list[URLPattern] = [
    path("", _(pages.task_list), name="ops-tasks"),
    path("<uuid:task_id>/", _(pages.task_detail), name="ops-task"),
    path("<uuid:task_id>/take", _(pages.task_take), name="ops-task-take"),
    path("<uuid:task_id>/note", _(pages.task_note), name="ops-task-note"),
    path("<uuid:task_id>/close", _(pages.task_close), name="ops-task-close"),
]
