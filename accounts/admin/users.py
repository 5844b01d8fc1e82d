"""Admin for accounts: search, filters, role groups, block/unblock with a reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.auth import admin_user
from accounts.models import Notification, User
from accounts.phone import phone_normalize
from accounts.services import users
from core.admin import ReadOnlyAdmin
from core.admin_scale import ScaleAdmin
from core.errors import DomainError


class _CleanContactMixin(forms.ModelForm):  # type: ignore[type-arg]
    def clean_email(self) -> str:
        return users.email_normalize(self.cleaned_data["email"])

    def clean_phone(self) -> str:
        raw = self.cleaned_data.get("phone") or ""
        try:
            return phone_normalize(raw) if raw else ""
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class UserAddForm(_CleanContactMixin, AdminUserCreationForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(_CleanContactMixin, UserChangeForm):  # type: ignore[type-arg]
    def save(self, commit: bool = True) -> User:
        if "phone" in self.changed_data:
            self.instance.phone_verified_at = None  # a number typed in here is not proved
        return super().save(commit=commit)

    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "name",
            "phone",
            "date_of_birth",
            "time_zone",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )


class BlockForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Shown to the user in the account_blocked error.")


@admin.register(User)
class UserAdmin(ScaleAdmin, DjangoUserAdmin):  # type: ignore[misc]
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    form = UserEditForm
    add_form = UserAddForm
    ordering = ("-created_at",)
    list_display = ("email_address", "name", "phone", "status", "is_staff", "created_at", "last_login")
    list_filter = ("status", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "phone", "name")
    readonly_fields = (
        "status",
        "blocked_reason",
        "phone_verified_at",
        "created_at",
        "updated_at",
        "last_login",
    )
    filter_horizontal = ("groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal data", {"fields": ("name", "phone", "phone_verified_at", "date_of_birth")}),
        ("Status (use the block / unblock actions)", {"fields": ("status", "blocked_reason")}),
        ("Roles and permissions", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Admin preferences", {"fields": ("time_zone",)}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )
    actions = ["block_users", "unblock_users"]

    @admin.display(description="email", ordering="email")
    def email_address(self, user: User) -> str:
        """A phone-only or deleted account's placeholder address is internal: not shown."""
        return user.email if user.has_real_email else "(no email)"

    def has_block_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.block_user")

    @admin.action(description="Block selected users (asks for a reason)", permissions=["block"])
    def block_users(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        form = BlockForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for user in queryset:
                users.user_block(user=user, reason=form.cleaned_data["reason"], actor=admin_user(request))
                self.log_change(request, user, f"Blocked: {form.cleaned_data['reason']}")
            self.message_user(request, f"Blocked {len(queryset)} user(s).", messages.SUCCESS)
            return None
        return TemplateResponse(
            request, "admin/accounts/user/block_users.html", self._block_context(request, form, queryset)
        )

    @admin.action(description="Unblock selected users", permissions=["block"])
    def unblock_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset:
            try:
                users.user_unblock(user=user, actor=admin_user(request))
            except DomainError as exc:
                self.message_user(request, f"{user.email}: {exc}", messages.ERROR)
                continue
            self.log_change(request, user, "Unblocked")
            done += 1
        self.message_user(request, f"Unblocked {done} user(s).", messages.SUCCESS)

    def _block_context(
        self, request: HttpRequest, form: BlockForm, queryset: QuerySet[User]
    ) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": "Block users",
            "form": form,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """What riders were told (support looks here first); written only by ``accounts.services.notify``."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "user", "kind", "title", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__email", "title"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
