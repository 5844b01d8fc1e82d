"""The admin's Finance pages (docs/billing.md "Finance"): revenue per city and day, the ledger's transactions,
the payment provider's captures and refunds per day, the debtors, and the nightly reconciliations. Each is an
admin view (``admin.site.admin_view`` in ``billing/admin_urls.py``: staff, signed in, CSRF-protected, never
cached) and needs the permission to read the ledger (roles finance and admin); ``?format=csv`` streams a report.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing import reports
from billing.models import ReconcileRun
from billing.selectors import finance
from fleet import selectors as fleet_selectors

PERMISSION = "billing.view_ledgertransaction"  # reading the ledger: roles finance and admin
_CHUNK_LINES = 500


class RangeForm(forms.Form):
    """A range of local days, ``first`` to ``last`` inclusive (the current month by default)."""

    first = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def range(self, today: date) -> tuple[date, date]:
        data = self.cleaned_data if self.is_valid() else {}
        last = data.get("last") or today
        first = data.get("first") or last.replace(day=1)
        return first, last

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first and last and first > last:
            raise forms.ValidationError("'From' is after 'To'.")
        if first and last and (last - first).days >= finance.MAX_DAYS:
            raise forms.ValidationError(f"At most {finance.MAX_DAYS} days at a time.")
        return data


def _require(request: HttpRequest) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied


def _today() -> date:
    return timezone.localdate()  # in the admin's zone (docs/admin.md "Local time")


def _context(request: HttpRequest, crumb: str, tab: str, **extra: Any) -> dict[str, Any]:
    last_run = ReconcileRun.objects.order_by("-night").first()
    return {**admin.site.each_context(request), "title": f"Finance: {crumb.lower()}", "crumb": crumb, "tab": tab,
            "last_run": last_run,
            "runs_url": reverse("admin:billing_reconcilerun_changelist"), **extra}


def _csv(filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """Streams the CSV in chunks of lines: in a WSGI server (production's admin) from a generator; in an ASGI
    one (``runserver``) each chunk is read in the request's sync thread, so neither buffers the whole file."""
    lines = reports.csv_lines(header, rows)
    chunks: Iterator[str] = ("".join(chunk) for chunk in itertools.batched(lines, _CHUNK_LINES))
    content: Iterator[str] | AsyncIterator[str] = _async(chunks) if settings.ASGI_SERVER else chunks
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def _async(chunks: Iterator[str]) -> AsyncIterator[str]:
    take = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    while (chunk := await take()) is not None:
        yield chunk


@require_GET
def revenue(request: HttpRequest) -> HttpResponseBase:
    _require(request)
    cities = list(fleet_selectors.staff_cities(request.user))  # per-city figures of the staff member's cities
    form = RangeForm(request.GET or None)
    first, last = form.range(_today())
    slug = request.GET.get("city", "")
    chosen = [c for c in cities if c.slug == slug] or cities
    report = [finance.revenue_by_day(city=c, first=first, last=last) for c in chosen]
    if request.GET.get("format") == "csv":
        return _csv(f"revenue_{first}_{last}.csv", reports.REVENUE_HEADER, reports.revenue_rows(report))
    return render(request, "billing/finance/revenue.html", _context(
        request, "Daily revenue per city", "revenue", form=form, first=first, last=last, cities=cities,
        city_slug=slug if len(chosen) == 1 and slug else "", report=report))


@require_GET
def transactions(request: HttpRequest) -> HttpResponseBase:
    _require(request)
    form = RangeForm(request.GET or None)
    first, last = form.range(_today())
    zone = timezone.get_current_timezone_name()
    start, end = finance.local_bounds(timezone=zone, first=first, last=last)
    kind = request.GET.get("kind", "")
    if request.GET.get("format") == "csv":
        entries = finance.entries_between(start=start, end=end, kind=kind)
        return _csv(f"ledger_{first}_{last}.csv", reports.ENTRIES_HEADER,
                    reports.entry_rows(entries, timezone=zone))
    page = Paginator(finance.transactions_between(start=start, end=end, kind=kind), 50).get_page(
        request.GET.get("page"))
    return render(request, "billing/finance/transactions.html", _context(
        request, "Ledger transactions", "transactions", form=form, first=first, last=last, kind=kind,
        kinds=finance.transaction_kinds(), page=page, zone=zone,
        users_url=reverse("admin:accounts_user_changelist")))


@require_GET
def captures(request: HttpRequest) -> HttpResponseBase:
    _require(request)
    form = RangeForm(request.GET or None)
    first, last = form.range(_today())
    admin_zone = timezone.get_current_timezone_name()
    zones = list(dict.fromkeys([admin_zone, "UTC", *(c.timezone for c in fleet_selectors.cities_all())]))
    asked = request.GET.get("tz", "")
    zone = asked if asked in zones else admin_zone
    days = finance.psp_by_day(timezone=zone, first=first, last=last)
    if request.GET.get("format") == "csv":
        return _csv(f"captures_refunds_{first}_{last}.csv", reports.PSP_HEADER, reports.psp_rows(days))
    return render(request, "billing/finance/captures.html", _context(
        request, "Captures and refunds per day", "captures", form=form, first=first, last=last,
        zones=zones, zone=zone, days=days))


@require_GET
def debtors(request: HttpRequest) -> HttpResponse:
    _require(request)
    search = request.GET.get("q", "").strip()
    page = Paginator(finance.debtor_accounts(search=search), 50).get_page(request.GET.get("page"))
    return render(request, "billing/finance/debtors.html", _context(
        request, "Debtors", "debtors", search=search, page=page,
        rows=[(d, _rider_url(request, d.user_id)) for d in finance.debtors(list(page.object_list))]))


# The debtors list links each rider to the support rider page (wallet, debt, rides, payments and the actions on
# them) for staff who may open it, else to the account's admin page, else to nothing.
SUPPORT_PERMISSION = "console.view_supportnote"


def _rider_url(request: HttpRequest, user_id: Any) -> str:
    if request.user.has_perm(SUPPORT_PERMISSION):
        return reverse("support-rider", args=[user_id])
    if request.user.has_perm("accounts.view_user"):
        return reverse("admin:accounts_user_change", args=[user_id])
    return ""
