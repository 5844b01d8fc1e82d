"""Zone admin: import a city's MDS Policy + Geography (upload or URL) -> preview of the changes and of the rules not
enforced -> confirm applies. Needs the permission that edits zones (``fleet.change_zone``)."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.errors import DomainError
from fleet import selectors
from fleet.admin.scope import CityScopedAdmin
from fleet.mds_policy import documents, fetch, mapping
from fleet.models import City, ImportedPolicy
from fleet.selectors import policy_import as policy_selectors
from fleet.services import policy_import as policy_services

PENDING_PREFIX = "fleet:policy-import:"
PENDING_TTL_S = 3600


class PolicyImportForm(forms.Form):
    city = forms.ModelChoiceField(queryset=City.objects.all())
    policy_file = forms.FileField(required=False, label="Policy document",
                                  help_text="A /policies response body or policies.json (a Policy object also works)")
    geography_file = forms.FileField(required=False, label="Geography document",
                                     help_text="A /geographies response body or geographies.json, unless the policy "
                                               "document already holds the geographies")
    policy_url = forms.URLField(required=False, assume_scheme="https", label="Policy URL")
    geography_url = forms.URLField(required=False, assume_scheme="https", label="Geography URL")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        city_field: Any = self.fields["city"]
        city_field.queryset = selectors.staff_cities(user)  # only into the staff member's own cities

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(f) for f in ("policy_file", "geography_file", "policy_url", "geography_url")):
            raise forms.ValidationError("Upload the Policy document or give its URL.")
        return data

    def sources(self) -> list[tuple[str, dict[str, Any]]]:
        """The documents, read and parsed (``DomainError`` says which one is unreadable or not JSON)."""
        out = []
        limit = settings.UPLOAD_MAX_BYTES
        for name in ("policy_file", "geography_file"):
            upload = self.cleaned_data.get(name)
            if upload:
                raw = fetch.read_upload(upload, name=upload.name, size=upload.size, max_bytes=limit)
                out.append((upload.name, documents.parse(raw, source=upload.name)))
        for name in ("policy_url", "geography_url"):
            url = self.cleaned_data.get(name)
            if url:
                raw = fetch.fetch(url, max_bytes=limit, allow_http=settings.DEBUG)
                out.append((url, documents.parse(raw, source=url)))
        return out


FIELDSETS: list[tuple[str | None, dict[str, Any]]] = [
    (None, {"fields": ["city"]}),
    ("Upload the documents", {"fields": ["policy_file", "geography_file"]}),
    ("Or fetch them", {"fields": ["policy_url", "geography_url"],
                       "description": "The city's MDS endpoints, e.g. https://mds.example.gov/policies and "
                                      "/geographies (http only with DEBUG on)."}),
]


class PolicyImportMixin:
    """Adds the import pages to ``ZoneAdmin`` (``admin:fleet_zone_import_mds_policy`` and ``..._apply``); the
    zone list's button is in ``admin/fleet/zone/change_list.html``."""

    def get_urls(self) -> list[URLPattern]:
        site: admin.AdminSite = self.admin_site  # type: ignore[attr-defined]
        return [
            path("import-mds-policy/", site.admin_view(self.import_mds_policy_view),
                 name="fleet_zone_import_mds_policy"),
            path("import-mds-policy/apply/", site.admin_view(self.import_mds_policy_apply_view),
                 name="fleet_zone_import_mds_policy_apply"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def _check(self, request: HttpRequest) -> None:
        if not self.has_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied

    def _context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        model_admin: admin.ModelAdmin[Any] = self  # type: ignore[assignment]
        return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta,
                "title": "Import MDS Policy", **extra}

    def import_mds_policy_view(self, request: HttpRequest) -> HttpResponse:
        self._check(request)
        form = PolicyImportForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                sources = form.sources()
                docs = documents.combine(sources)
                plan = policy_selectors.policy_plan(city=form.cleaned_data["city"], documents=docs)
            except DomainError as exc:
                form.add_error(None, exc.detail_message)
            else:
                token = secrets.token_urlsafe(24)
                cache.set(f"{PENDING_PREFIX}{token}",
                          {"user": request.user.pk, "city": form.cleaned_data["city"].pk, "sources": sources},
                          PENDING_TTL_S)
                return self._preview(request, form.cleaned_data["city"], plan, token, [name for name, _ in sources])
        # django-stubs says ModelForm; Django takes any form here (its UserAdmin password page passes a Form).
        adminform = helpers.AdminForm(form, FIELDSETS, {})  # type: ignore[arg-type]
        return TemplateResponse(request, "admin/fleet/zone/import_mds_policy.html",
                                self._context(request, form=form, adminform=adminform))

    def _preview(self, request: HttpRequest, city: City, plan: mapping.Plan, token: str,
                 names: list[str]) -> TemplateResponse:
        rows = [(c, mapping.describe_zone(c.fields)) for c in plan.changes if c.action != "unchanged"]
        return TemplateResponse(request, "admin/fleet/zone/import_mds_policy_preview.html", self._context(
            request, title=f"Import MDS Policy into {city.name}: preview", city=city, plan=plan, rows=rows,
            unchanged=plan.of("unchanged"), token=token, digest=plan.digest(), names=names,
        ))

    def import_mds_policy_apply_view(self, request: HttpRequest) -> HttpResponse:
        self._check(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:fleet_zone_import_mds_policy"))
        token = request.POST.get("token", "")
        pending = cache.get(f"{PENDING_PREFIX}{token}") if token else None
        if not pending or pending["user"] != request.user.pk:
            messages.error(request, "This import preview has expired; upload the documents again.")
            return HttpResponseRedirect(reverse("admin:fleet_zone_import_mds_policy"))
        city = selectors.staff_cities(request.user).filter(pk=pending["city"]).first()
        if city is None:  # the staff member's cities changed since the preview
            raise Http404
        docs = documents.combine(pending["sources"])
        try:
            plan = policy_services.policy_import(city=city, documents=docs, expected_digest=request.POST.get("digest"),
                                                 actor=request.user)
        except policy_services.PolicyPlanStale as exc:
            messages.error(request, exc.detail_message)
            plan = policy_selectors.policy_plan(city=city, documents=docs)
            return self._preview(request, city, plan, token, [name for name, _ in pending["sources"]])
        cache.delete(f"{PENDING_PREFIX}{token}")
        messages.success(request, f"MDS Policy imported into {city.name}: {plan.summary()}.")
        return HttpResponseRedirect(reverse("admin:fleet_zone_changelist") + f"?city__id__exact={city.pk}")


@admin.register(ImportedPolicy)
class ImportedPolicyAdmin(CityScopedAdmin, admin.ModelAdmin):
    """What the imports applied, read-only: a policy listed here keeps its ``prev_policies`` from coming back."""

    list_display = ["name", "city", "policy_id", "published_at", "imported_at"]
    list_filter = ["city"]
    search_fields = ["name", "policy_id"]
    list_select_related = ["city"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
