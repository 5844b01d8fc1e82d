"""The user admin with support's search and a link to the rider page: accounts' ``UserAdmin``, registered in its
place by ``console.admin`` (like the vehicle page): the search also finds phone numbers typed in national form,
and riders by a ride id or a vehicle code they rode, which only a layer above rides may look up; a staff member's
page has the "Cities" box (``fleet.admin.staff``: accounts knows no city)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts import selectors as account_selectors
from accounts.admin.users import UserAdmin
from accounts.models import User
from console.support import views
from fleet.admin import staff as fleet_staff_admin
from rides import selectors as ride_selectors


class SupportUserAdmin(UserAdmin):
    change_form_template = "console/support/user_change_form.html"
    inlines = [fleet_staff_admin.StaffCitiesInline]  # which cities a staff member sees (fleet owns cities)

    def get_inline_instances(self, request: HttpRequest, obj: User | None = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []  # not on "add user"

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = list(super().get_list_display(request))
        return [*shown, "support_page"] if request.user.has_perm(views.PAGE_PERMISSION) else shown

    @admin.display(description="support")
    def support_page(self, user: User) -> str:
        return format_html('<a href="{}">Rider page</a>', reverse("support-rider", args=[user.pk]))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[User],
                           search_term: str) -> tuple[QuerySet[User], bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        text = search_term.strip()
        if not text:
            return found, may_have_duplicates
        riders = {r.rider_id for r in ride_selectors.rides_search(text=text)}
        more = queryset.filter(account_selectors.users_matching(text=text))
        if riders:
            more = more | queryset.filter(pk__in=riders)
        return found | more, may_have_duplicates

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        extra = {**(extra_context or {}),
                 "support_url": reverse("support-rider", args=[object_id])
                 if request.user.has_perm(views.PAGE_PERMISSION) else None}
        return super().change_view(request, object_id, form_url, extra)


admin.site.unregister(User)
admin.site.register(User, SupportUserAdmin)
