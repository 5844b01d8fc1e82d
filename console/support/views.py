"""Support's pages under ``/admin/support/`` (wrapped in ``admin.site.admin_view``: staff, signed in, CSRF).

Every page needs ``console.view_supportnote``; every action its own permission (``page.ACTION_PERMISSIONS``),
checked on the confirmation page and again on the submit. An action runs on a POST of its confirmation page only,
once per page shown (``services.support_action``), and is recorded as a support note."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.auth import admin_user
from accounts.models import User
from accounts.services import users as user_services
from billing import selectors as billing_selectors
from billing.services import receipts as billing_receipts
from billing.services import refunds as billing_refunds
from console.models import SupportNote
from console.support import forms, page, services
from core.errors import DomainError, SelfActionForbidden
from core.money import quantize
from fleet import selectors as fleet_selectors
from rides import selectors as ride_selectors
from rides import services as ride_services
from rides.models import OPEN_STATES, Ride

PAGE_PERMISSION = "console.view_supportnote"


def _page_allowed(request: HttpRequest) -> None:
    if not request.user.has_perm(PAGE_PERMISSION):
        raise PermissionDenied


def _rider(request: HttpRequest, rider_id: uuid.UUID) -> User:
    _page_allowed(request)
    rider = account_selectors.user_get(user_id=rider_id)
    if rider is None:
        raise Http404("No such rider.")
    return rider


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def rider_url(rider_id: Any) -> str:
    return reverse("support-rider", args=[rider_id])


def search_view(request: HttpRequest) -> HttpResponse:
    _page_allowed(request)
    text = request.GET.get("q", "").strip()[:200]
    riders = account_selectors.users_search(text=text) if text else []
    rides = ride_selectors.rides_search(text=text) if text else []
    if len(riders) == 1 and not rides:
        return HttpResponseRedirect(rider_url(riders[0].pk))
    return TemplateResponse(request, "console/support/search.html",
                            _context(request, "Support: find a rider", q=text, riders=riders, rides=rides))


def rider_view(request: HttpRequest, rider_id: uuid.UUID) -> HttpResponse:
    rider = _rider(request, rider_id)
    panels = page.rider_panels(rider, staff=request.user, ride=request.GET.get("ride"))
    note_form = forms.NoteForm(initial={"submission": uuid.uuid4()})
    return TemplateResponse(request, "console/support/rider.html",
                            _context(request, f"Rider: {rider.contact_label or rider.pk}", note_form=note_form,
                                     **panels))


@require_POST
def note_view(request: HttpRequest, rider_id: uuid.UUID) -> HttpResponse:
    rider = _rider(request, rider_id)
    if not request.user.has_perm(page.ACTION_PERMISSIONS["note"]):
        raise PermissionDenied
    form = forms.NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note was not saved: write some text.")
    else:
        result = services.support_note_add(rider=rider, author=admin_user(request), text=form.cleaned_data["text"],
                                           submission=form.cleaned_data["submission"])
        messages.success(request, "Note added." if result.ran else "This note was already added.")
    return HttpResponseRedirect(rider_url(rider.pk))


@dataclass(frozen=True)
class Action:
    title: str
    form: type[django_forms.Form]
    ride: bool  # acts on one of the rider's rides (its id in the URL)
    run: Callable[[HttpRequest, User, Ride | None, dict[str, Any]], str]
    text: Callable[[User, Ride | None, dict[str, Any]], str]  # the note, written before the action runs


def _refund(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    assert ride is not None
    refund = billing_refunds.refund_ride(ride_id=ride.id, amount=data["amount"], reason=data["reason"],
                                         actor=admin_user(request))
    c = refund.currency
    return (f"Refunded {quantize(refund.amount, c)} {c}: {quantize(refund.card_amount, c)} to the card, "
            f"{quantize(refund.wallet_amount, c)} to the wallet")


def _goodwill(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    billing_refunds.goodwill_grant(user=rider, amount=data["amount"], currency=data["currency"],
                                   reason=data["reason"], actor=admin_user(request))
    return f"Granted {data['amount']} {data['currency']} bonus credit"


def _force_end(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    assert ride is not None
    ended = ride_services.ride_force_end(ride_id=ride.id, actor=admin_user(request), reason=data["reason"])
    fare = f", fare {ended.fare_total} {ended.currency}" if ended.fare_total is not None else ""
    return f"Ride {ended.get_state_display().lower()}{fare}"


def _block(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    if rider.pk == request.user.pk:
        raise SelfActionForbidden()
    user_services.user_block(user=rider, reason=data["reason"], actor=admin_user(request))
    return "Blocked"


def _unblock(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    user_services.user_unblock(user=rider, actor=admin_user(request))
    return "Unblocked"


def _receipt(request: HttpRequest, rider: User, ride: Ride | None, data: dict[str, Any]) -> str:
    assert ride is not None
    billing_receipts.receipt_resend(ride_id=ride.id, actor=admin_user(request))
    return "Receipt sent to the rider's app"


def _ride_ref(ride: Ride | None) -> str:
    return f"ride {ride.id} ({ride.vehicle.code})" if ride is not None else ""


ACTIONS: dict[str, Action] = {
    "refund": Action("Refund a ride", forms.RefundForm, True, _refund,
                     lambda r, ride, d: f"Refund {d['amount']} of {_ride_ref(ride)}: {d['reason']}"),
    "goodwill": Action("Grant goodwill credit", forms.GoodwillForm, False, _goodwill,
                       lambda r, ride, d: f"Goodwill credit {d['amount']} {d['currency']}: {d['reason']}"),
    "force_end": Action("Force-end a ride", forms.ForceEndForm, True, _force_end,
                        lambda r, ride, d: f"Force-end {_ride_ref(ride)}: {d['reason']}"),
    "block": Action("Block the rider", forms.BlockForm, False, _block, lambda r, ride, d: f"Block: {d['reason']}"),
    "unblock": Action("Unblock the rider", forms.ReasonForm, False, _unblock,
                      lambda r, ride, d: f"Unblock: {d['reason']}"),
    "receipt": Action("Resend a receipt", forms.RideForm, True, _receipt,
                      lambda r, ride, d: f"Resend the receipt of {_ride_ref(ride)}"
                                         + (f": {d['reason']}" if d.get("reason") else "")),
}
KINDS = {"refund": SupportNote.Kind.REFUND, "goodwill": SupportNote.Kind.GOODWILL,
         "force_end": SupportNote.Kind.FORCE_END, "block": SupportNote.Kind.BLOCK,
         "unblock": SupportNote.Kind.UNBLOCK, "receipt": SupportNote.Kind.RECEIPT}


def _currencies(rider: User) -> list[str]:
    return sorted(set(billing_selectors.wallet_currencies(user=rider))
                  | {c.currency for c in fleet_selectors.cities_all()}) or ["EUR"]


def _form(action: str, rider: User, data: Any = None, initial: dict[str, Any] | None = None) -> django_forms.Form:
    kwargs: dict[str, Any] = {"currencies": _currencies(rider)} if action == "goodwill" else {}
    return ACTIONS[action].form(data, initial={**(initial or {}), "submission": uuid.uuid4()}, **kwargs)


def _action_ride(action: str, rider: User, ride_id: uuid.UUID | None, staff: Any) -> Ride | None:
    """The ride an action is about: one of the rider's, and of the staff member's cities (the page lists every
    ride of the rider; a ride of another city is acted on by that city's staff)."""
    if not ACTIONS[action].ride:
        return None
    if ride_id is None:
        raise Http404("Which ride?")
    try:
        ride = ride_selectors.ride_get_for_rider(rider=rider, ride_id=ride_id)
    except DomainError:
        raise Http404("No such ride of this rider.") from None
    if not fleet_selectors.staff_sees_city(user=staff, city_id=ride.city_id):
        raise Http404("No such ride of this rider in your cities.")
    if action == "force_end" and ride.state not in OPEN_STATES:
        raise Http404("This ride is not open.")
    return ride


def action_view(request: HttpRequest, rider_id: uuid.UUID, action: str,
                ride_id: uuid.UUID | None = None) -> HttpResponse:
    rider = _rider(request, rider_id)
    if action not in ACTIONS:
        raise Http404
    if not request.user.has_perm(page.ACTION_PERMISSIONS[action]):
        raise PermissionDenied
    ride = _action_ride(action, rider, ride_id, request.user)
    refundable = billing_selectors.ride_refundable(ride_id=ride.id) if action == "refund" and ride else None
    refundable = quantize(refundable, ride.currency) if refundable is not None and ride is not None else None
    spec = ACTIONS[action]
    form = _form(action, rider, initial={"amount": refundable} if refundable else None)
    if request.method == "POST":
        form = _form(action, rider, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = services.support_action(
                    rider=rider, actor=admin_user(request), kind=KINDS[action], submission=data["submission"],
                    text=spec.text(rider, ride, data), run=lambda: spec.run(request, rider, ride, data))
            except DomainError as exc:
                messages.error(request, f"Not done: {services.error_text(exc)}")
                form = _form(action, rider, initial={k: v for k, v in data.items() if k != "submission"})
            else:
                if result.ran:
                    messages.success(request, f"{spec.title}: {result.note.outcome}.")
                else:
                    messages.warning(request, f"Already done once (this form was sent twice): "
                                              f"{result.note.outcome or 'still running'}.")
                return HttpResponseRedirect(rider_url(rider.pk))
    return TemplateResponse(request, "console/support/confirm.html", _context(
        request, spec.title, rider=rider, ride=ride, action=action, form=form, refundable=refundable,
        contact=rider.contact_label or str(rider.pk)))
