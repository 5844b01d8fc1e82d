"""Staff see and act on their own cities only, in every admin page of a city-bound model (docs/accounts.md "Cities").

``CityScopedAdmin`` is mixed into every ``ModelAdmin`` of a model that belongs to a city, naming the lookup from
the model to its city in ``city_field`` (``"city"``, ``"vehicle__city"``; ``"id"`` on ``City`` itself). With it:

- the changelist, the change, delete and history pages, actions (their queryset is the changelist's) and the
  autocomplete of other pages that pick one of these rows hold the staff member's cities only;
- an object of another city is a 404 on every object page (so is an id that does not exist, for staff limited to
  some cities: the answer must not tell the two apart);
- the choices of a form's city-bound foreign keys (a zone's city, a task's vehicle) and of the list filters by
  them are the staff member's cities and their rows only, so nothing is created in, or moved to, another city;
- rows of no city (an alert endpoint or a pass for all cities) are for staff of every city only.

A model reached another way (an MDS agency regulates several cities) overrides ``scope_queryset``. The methods
here are the scoping alone and leave every other admin hook to the classes they are mixed with.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from fleet import selectors
from fleet.models import City


def admin_scope(request: HttpRequest, model: type[models.Model], queryset: QuerySet[Any]) -> QuerySet[Any] | None:
    """``queryset`` limited to the user's cities by the scoping of ``model``'s registered admin; ``None`` when the
    model is not city-bound (not registered with a scoped admin, and not ``City``)."""
    if model is City:
        return selectors.staff_scope(queryset, user=request.user, path="id")
    if not admin.site.is_registered(model):
        return None
    model_admin = admin.site.get_model_admin(model)
    if not isinstance(model_admin, CityScopedAdmin):
        return None
    return model_admin.scope_queryset(request, queryset)


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A list filter by a city-bound relation (city, vehicle, endpoint, agency) offering the user's rows only."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        related = field.remote_field.model
        if selectors.staff_city_ids(request.user) is None:  # every city: Django's own choices, no subquery
            return super().field_choices(field, request, model_admin)
        visible = admin_scope(request, related, related._default_manager.all())
        if visible is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, ordering=ordering,
                                 limit_choices_to=models.Q(pk__in=visible.values("pk")))


class CityScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    city_field: str = "city"

    # --- what the staff member sees --------------------------------------------------------------------------

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` limited to the user's cities (override for a model reached otherwise than by one path)."""
        return selectors.staff_scope(queryset, user=request.user, path=self.city_field)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scope_queryset(request, super().get_queryset(request))

    def city_limited(self, request: HttpRequest) -> bool:
        """Does this staff member see only some cities (so some rows are hidden from them)?"""
        return selectors.staff_city_ids(request.user) is not None

    def object_visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        """404 for an object outside the user's cities, and, for staff limited to some cities, for an id that
        does not exist either (Django's admin redirects then; the two answers would tell hidden from missing)."""
        if not self.city_limited(request):
            return
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValidationError, ValueError):
            visible = False
        if not visible:
            raise Http404

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self.object_visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str,
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self.object_visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request: HttpRequest, object_id: str,
                     extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self.object_visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    # --- what the staff member may pick -----------------------------------------------------------------------

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return _limited(field, db_field, request)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return _limited(field, db_field, request)

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [_scoped_filter(self.model, entry) for entry in super().get_list_filter(request)]


def _limited(field: Any, db_field: Any, request: HttpRequest) -> Any:
    """A form field of a relation, its choices cut to the user's cities when the related model is city-bound."""
    if field is None or not hasattr(field, "queryset"):
        return field
    visible = admin_scope(request, db_field.remote_field.model, field.queryset)
    if visible is not None:
        field.queryset = visible
    return field


def _scoped_filter(model: type[models.Model], entry: Any) -> Any:
    """``"city"`` -> ``("city", ScopedRelatedFieldListFilter)`` for a relation to a city-bound model."""
    if not isinstance(entry, str):
        return entry
    try:
        field = get_fields_from_path(model, entry)[-1]
    except (FieldDoesNotExist, admin.utils.NotRelationField):
        return entry
    if getattr(field, "remote_field", None) is None or not isinstance(field, models.ForeignKey):
        return entry
    related = field.remote_field.model
    if related is City or (admin.site.is_registered(related)
                           and isinstance(admin.site.get_model_admin(related), CityScopedAdmin)):
        return (entry, ScopedRelatedFieldListFilter)
    return entry
