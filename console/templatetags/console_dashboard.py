"""``{% console_dashboard %}``: the KPI dashboard on the admin index (console/templates/console/admin_index.html)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from console import charts, selectors
from fleet import selectors as fleet_selectors

register = template.Library()

# Money figures (revenue, VAT, refunds) are for those who may read the ledger: roles finance and admin.
MONEY_PERMISSION = "billing.view_ledgertransaction"


@register.inclusion_tag("console/dashboard.html", takes_context=True)
def console_dashboard(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    cities = list(fleet_selectors.staff_cities(request.user))  # the staff member's cities only
    if not cities:
        return {"cities": [], "no_city_of_yours": bool(fleet_selectors.cities_all())}
    wanted = request.GET.get("city")
    city = next((c for c in cities if c.slug == wanted), cities[0])
    board = selectors.dashboard(city=city, now=timezone.now())
    show_money = request.user.has_perm(MONEY_PERMISSION)
    rides_chart = charts.bar_chart(
        values=board.rides_by_hour, labels=[f"{h:02d}" for h in range(24)], label_every=3,
        titles=[f"{h:02d}:00-{h:02d}:59: {n} rides" for h, n in enumerate(board.rides_by_hour)],
        title=f"Rides per hour today in {city.name}")
    revenue_chart = charts.bar_chart(
        values=[amount for _, amount in board.revenue_by_day], labels=[f"{d:%a %d}" for d, _ in board.revenue_by_day],
        titles=[f"{d:%a %d %b}: {amount:.2f} {city.currency} net" for d, amount in board.revenue_by_day],
        title=f"Net revenue per day in {city.name}") if show_money else None
    return {"cities": cities, "city": city, "board": board, "show_money": show_money, "currency": city.currency,
            "rides_chart": rides_chart, "revenue_chart": revenue_chart,
            "show_map": request.user.has_perm("fleet.view_vehicle")}
