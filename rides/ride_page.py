"""A ride's track and fare as the ride page shows them (``rides.admin``), in one place for every page that shows a
ride: the ride page and support's rider page (``console.support``) both call ``ride_panels`` and include the
template ``rides/ride_panels.html``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing import selectors as billing_selectors
from fleet.models import ZoneKind
from rides import selectors
from rides.models import Ride

RECEIPT_PERMISSION = "billing.view_ridebilling"  # what the receipt view itself asks of staff (billing.views.ops)


def _when(at: Any) -> str:
    return f"{timezone.localtime(at):%H:%M:%S}"


def _kind(kind: str) -> str:
    return str(ZoneKind(kind).label).lower() if kind in ZoneKind.values else kind


def ride_map(ride: Ride) -> tuple[dict[str, Any], list[selectors.ZoneCrossing], list[str]]:
    """What the ride page's map draws (core/static/core/object_map.js): the thinned track, start and end markers,
    a marker per zone crossing and the zones concerned; with the crossings and the zones the ride started in."""
    points = selectors.ride_track_points(ride=ride)
    started_in, crossings = selectors.ride_zone_crossings(ride=ride, points=points)
    markers: list[dict[str, Any]] = []
    start = (ride.start_lat, ride.start_lon) if ride.start_lat is not None else \
        ((points[0].lat, points[0].lon) if points else None)
    end = (ride.end_lat, ride.end_lon) if ride.end_lat is not None else \
        ((points[-1].lat, points[-1].lon) if points and not ride.is_open else None)
    if start is not None:
        markers.append({"lat": start[0], "lon": start[1], "kind": "start",
                        "label": f"Start {_when(ride.started_at or ride.created_at)}"})
    for c in crossings:
        markers.append({"lat": c.lat, "lon": c.lon, "kind": "enter" if c.entered else "leave",
                        "label": f"{'Entered' if c.entered else 'Left'} {c.zone_name} ({_kind(c.zone_kind)}) "
                                 f"{_when(c.at)}"})
    if end is not None:
        markers.append({"lat": end[0], "lon": end[1], "kind": "end",
                        "label": f"End {_when(ride.ended_at)}" if ride.ended_at else "End"})
    zone_ids = list(dict.fromkeys([*started_in, *(c.zone_id for c in crossings)]))
    data = {"track": [[round(p.lat, 6), round(p.lon, 6)] for p in points], "markers": markers,
            "zones": selectors.zones_geojson(city_id=ride.city_id, zone_ids=zone_ids)}
    return data, crossings, started_in


def fare_table(fare: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored fare (``fares.Fare.to_json()``) as rows for the page: amounts as Decimals, discounts negative."""
    if not fare:
        return None
    return {
        "currency": fare["currency"],
        "lines": [{**line, "quantity": Decimal(line["quantity"]), "amount": Decimal(line["amount"]),
                   "unit_price": Decimal(line["unit_price"]) if line["unit_price"] is not None else None}
                  for line in fare["lines"]],
        "subtotal": Decimal(fare["subtotal"]), "discounts": Decimal(fare["discounts"]),
        "total": Decimal(fare["total"]), "vat_pct": Decimal(fare["vat_rate"]) * 100,
        "vat_amount": Decimal(fare["vat_amount"]), "net_amount": Decimal(fare["net_amount"]),
        "capped": fare["capped"], "pass_minutes": fare["minutes_from_pack_used"],
    }


def ride_panels(ride: Ride, *, staff: User | AnonymousUser) -> dict[str, Any]:
    """The context of ``rides/ride_panels.html``: map data, zone crossings, the fare table, payments and refunds,
    the receipt link for staff who may open it."""
    map_data, crossings, started_in = ride_map(ride)
    billing = billing_selectors.ride_billing_get(ride_id=ride.id)
    charged = billing is not None and billing.status == billing.Status.CHARGED
    receipt = reverse("billing-ride-receipt-html", args=[ride.id]) \
        if charged and staff.has_perm(RECEIPT_PERMISSION) else None
    return {
        "ride_map": map_data, "crossings": [(c, _kind(c.zone_kind)) for c in crossings],
        "started_in": [f["properties"]["name"] for f in map_data["zones"]["features"]
                       if f["properties"]["id"] in started_in],
        "fare": fare_table(billing.fare if billing is not None and billing.fare else ride.fare),
        "billing": billing, "payments": billing_selectors.ride_payments(ride_id=ride.id),
        "refunds": billing_selectors.ride_refunds(ride_id=ride.id), "receipt_url": receipt,
        "may_read_payments": staff.has_perm("billing.view_payment"),
    }
