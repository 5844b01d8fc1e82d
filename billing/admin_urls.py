"""The Finance pages under the admin's URL (``/admin/finance/``), included by config/urls.py before the admin's."""

from django.contrib import admin
from django.urls import URLPattern, path

from billing.views import finance

_ = admin.site.admin_view  # staff only, signed in (else the admin's login), CSRF-protected, never cached

urlpatterns: list[URLPattern] = [
    path("", _(finance.revenue), name="finance-revenue"),
    path("transactions/", _(finance.transactions), name="finance-transactions"),
    path("captures/", _(finance.captures), name="finance-captures"),
    path("debtors/", _(finance.debtors), name="finance-debtors"),
]
