"""Support's pages under the admin's URL (``/admin/support/``), included by config/urls.py before the admin's own."""

from django.contrib import admin
from django.urls import URLPattern, path

from console.support import views

_ = admin.site.admin_view  # staff only, signed in (else the admin's login), CSRF-protected, never cached

urlpatterns: list[URLPattern] = [
    path("", _(views.search_view), name="support-search"),
    path("riders/<uuid:rider_id>/", _(views.rider_view), name="support-rider"),
    path("riders/<uuid:rider_id>/notes", _(views.note_view), name="support-note"),
    path("riders/<uuid:rider_id>/<str:action>/", _(views.action_view), name="support-action"),
    path("riders/<uuid:rider_id>/rides/<uuid:ride_id>/<str:action>/", _(views.action_view),
         name="support-ride-action"),
]
