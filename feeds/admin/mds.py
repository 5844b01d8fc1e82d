"""MDS admin: agencies (their cities, issuing a token shown once), credentials (revoke), the pull audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts import auth as accounts_auth
from core.admin import ReadOnlyAdmin
from feeds.mds import services
from feeds.models import Agency, AgencyCredential, MdsPull
from fleet import selectors
from fleet.admin.scope import CityScopedAdmin


class AgencyCredentialInline(admin.TabularInline):
    model = AgencyCredential
    fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # tokens are issued by the action "Issue a new token", which shows the token once


def _agencies_in_scope(request: HttpRequest) -> QuerySet[Any]:
    return admin.site.get_model_admin(Agency).get_queryset(request).values("pk")


@admin.register(Agency)
class AgencyAdmin(CityScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    """An agency is for staff of all its cities (one that regulates Berlin and Hamburg is not a Berlin-only
    manager's to change: its form would drop Hamburg); one with no city for staff of every city."""

    list_display = ["name", "city_list", "active_credentials", "last_pull"]
    search_fields = ["name", "cities__slug"]
    filter_horizontal = ["cities"]
    inlines = [AgencyCredentialInline]
    actions = ["issue_token"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agency]:
        return super().get_queryset(request).prefetch_related("cities").annotate(
            _active=Count("credentials", filter=Q(credentials__revoked_at__isnull=True), distinct=True),
            _last_pull=Max("pulls__at"),
        )

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        scope = selectors.staff_city_ids(request.user)
        if scope is None:
            return queryset
        through = Agency.cities.through.objects
        return (queryset.filter(pk__in=through.filter(city_id__in=scope).values("agency_id"))
                .exclude(pk__in=through.exclude(city_id__in=scope).values("agency_id")))

    @admin.display(description="cities")
    def city_list(self, agency: Agency) -> str:
        return ", ".join(city.slug for city in agency.cities.all()) or "(none: its tokens see nothing)"

    @admin.display(description="active tokens", ordering="_active")
    def active_credentials(self, agency: Agency) -> int:
        return int(getattr(agency, "_active", 0))

    @admin.display(description="last pull", ordering="_last_pull")
    def last_pull(self, agency: Agency) -> Any:
        return getattr(agency, "_last_pull", None)

    @admin.action(description="Issue a new token (shown once)", permissions=["change"])
    def issue_token(self, request: HttpRequest, queryset: QuerySet[Agency]) -> TemplateResponse:
        issued = []
        for agency in queryset:
            credential, token = services.credential_issue(agency=agency, created_by=accounts_auth.admin_user(request))
            self.log_change(request, agency, f"Issued MDS token {credential}")
            issued.append((agency, credential, token))
        # The page holds the tokens: the admin's pages are never cached (no-store), so it is not kept either.
        return TemplateResponse(request, "admin/feeds/agency/issued_tokens.html", {
            **self.admin_site.each_context(request), "title": "MDS tokens issued", "issued": issued,
            "opts": self.model._meta,
        })


@admin.register(AgencyCredential)
class AgencyCredentialAdmin(CityScopedAdmin, ReadOnlyAdmin):
    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset if not self.city_limited(request) else queryset.filter(agency__in=_agencies_in_scope(request))

    list_display = ["__str__", "agency", "created_at", "created_by", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "agency"]
    search_fields = ["prefix", "agency__name"]
    list_select_related = ["agency", "created_by"]
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("feeds.change_agencycredential")

    @admin.action(description="Revoke selected tokens (their next request is refused)", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AgencyCredential]) -> None:
        done = 0
        for credential in queryset:
            if services.credential_revoke(credential_id=credential.id, actor=accounts_auth.admin_user(request)):
                self.log_change(request, credential, "Revoked")
                done += 1
        self.message_user(request, f"Revoked {done} token(s).", messages.SUCCESS)


@admin.register(MdsPull)
class MdsPullAdmin(CityScopedAdmin, ReadOnlyAdmin):
    """Every request to /mds/: who pulled what, the answer's status, rows and duration. A pull is for the staff
    who see its agency (a refused pull, of no agency, for staff of every city)."""

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset if not self.city_limited(request) else queryset.filter(agency__in=_agencies_in_scope(request))

    # 1440 px wide: the method (always GET) and the token are on the detail page
    list_display = ["at", "agency", "path", "params", "city_slugs", "status", "error", "rows", "duration_ms",
                    "client_ip"]
    list_filter = ["status", "agency"]
    search_fields = ["path", "agency__name", "credential__prefix", "client_ip"]
    date_hierarchy = "at"
    list_select_related = ["agency", "credential"]
