"""Admin pages that stay fast on tables of millions of rows (``python -m bench admin`` measures them).

``ScaleAdmin`` is the base of ``core.admin.ReadableJsonAdmin`` (so of every read-only admin) and of the big
editable ones. For every model it:

- counts a changelist exactly only up to ``EstimatedCountPaginator.exact_limit`` rows; past that the number is
  PostgreSQL's estimate and the page says "about 10,200,000" or "more than 10,000" (a ``COUNT(*)`` of 10 million
  rows takes seconds);
- never counts the unfiltered table a second time (``show_full_result_count = False``).

A model admin with ``large_table = True`` (one line in its class) also gets:

- no facet counts (``show_facets = NEVER``: a count per filter choice is a scan per choice);
- a filter by every value of a plain field (``SELECT DISTINCT`` over the table) reads the values by a loose
  index scan (``IndexedValuesFilter``; the field wants an index);
- its ``date_hierarchy`` as a date filter (today, past 7 days, this month, this year) on the same field: the
  hierarchy's year and month links are a ``SELECT DISTINCT`` over the whole table;
- search by indexed lookups only: each search field is looked up on its own (``=field`` exact as typed,
  ``^field`` or a plain ``field`` by its beginning, case-insensitive; ids and numbers exactly), a related
  model's field first on that model, and the matching rows are the union; the search box says so
  (``search_help_text``). ``icontains`` on a big table reads every row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

SEARCH_ROWS_PER_FIELD = 1000  # newest matches kept per search field; a search is for finding, not for listing


class EstimatedCountPaginator(Paginator):
    """A paginator that counts exactly up to ``exact_limit`` rows and estimates beyond (``estimated`` is then
    True): the count is ``SELECT count(*) FROM (... LIMIT exact_limit + 1)``, cheap whatever the table's size,
    and the estimate is the planner's row count for the same query (``EXPLAIN``)."""

    exact_limit = 10_000

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return super().count
        queryset = self.object_list.order_by()
        exact = queryset[: self.exact_limit + 1].count()
        self.estimated = exact > self.exact_limit
        if not self.estimated:
            return exact
        plan = json.loads(queryset.explain(format="json"))
        return max(exact, int(plan[0]["Plan"]["Plan Rows"]))

    estimated = False

    @property
    def count_label(self) -> str:
        """The count as the page shows it: exact, "about 10,200,000" or, when the planner's estimate is not
        above the exact limit, "more than 10,000"."""
        count = self.count
        if not self.estimated:
            return f"{count:,}"
        if count <= self.exact_limit + 1:
            return f"more than {self.exact_limit:,}"
        return f"about {float(f'{count:.3g}'):,.0f}"


class ScaleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    large_table = False  # True: no facets, a date filter instead of the date hierarchy, indexed search only

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.large_table:
            cls.show_facets = admin.ShowFacets.NEVER
            if cls.date_hierarchy:
                cls.list_filter = [*cls.list_filter, (cls.date_hierarchy, admin.DateFieldListFilter)]
                cls.date_hierarchy = None

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if not self.large_table:
            return filters
        return [(f, IndexedValuesFilter) if _all_values_filter(self.model, f) else f for f in filters]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        if self.large_table and changelist.search_fields and not changelist.search_help_text:
            changelist.search_help_text = search_help(self.model, changelist.search_fields)
        return changelist

    def action_checkbox(self, obj: models.Model) -> SafeString:
        """Django's row checkbox, written directly: rendered through the form widget templates it was a third of
        a 100-row changelist's time (cProfile at city scale); the HTML is the same."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
                           helpers.ACTION_CHECKBOX_NAME, str(obj.pk), label)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        if not self.large_table:
            return super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return queryset, False
        ordering = self.get_ordering(request) or self.model._meta.ordering or ["-pk"]
        found: list[Any] = []
        for spec in self.get_search_fields(request):
            condition = indexed_condition(self.model, spec, term)
            if condition is not None:
                rows = queryset.filter(condition).order_by(*ordering).values_list("pk", flat=True)
                found.extend(rows[:SEARCH_ROWS_PER_FIELD])
        return queryset.filter(pk__in=found), False


def _all_values_filter(model: type[models.Model], spec: Any) -> bool:
    """Whether Django would list this filter's choices with ``SELECT DISTINCT`` over the whole table: a plain
    field of the model without choices (not a relation, a boolean or a date)."""
    if not isinstance(spec, str) or "__" in spec:
        return False
    try:
        field = model._meta.get_field(spec)
    except FieldDoesNotExist:
        return False
    plain = (models.BooleanField, models.DateField, models.DateTimeField)
    return not field.is_relation and not getattr(field, "choices", None) and not isinstance(field, plain)


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by every value of a field, with the values read by a loose index scan (one index probe
    per distinct value, ``WITH RECURSIVE``) instead of a ``SELECT DISTINCT`` over the whole table. The field
    wants an index that starts with it. At most 100 values are listed."""

    def __init__(self, field: models.Field[Any, Any], request: HttpRequest, params: dict[str, Any],
                 model: type[models.Model], model_admin: Any, field_path: str) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        table, column = connection.ops.quote_name(str(model._meta.db_table)), connection.ops.quote_name(str(field.column))
        with connection.cursor() as cursor:
            # Identifiers only, quoted from the model's metadata: no input reaches this SQL.
            loose_scan = f"""
                WITH RECURSIVE v(x) AS (
                    (SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {column} LIMIT 1)
                    UNION ALL
                    SELECT (SELECT {column} FROM {table} WHERE {column} > v.x ORDER BY {column} LIMIT 1)
                    FROM v WHERE v.x IS NOT NULL)
                SELECT x FROM v WHERE x IS NOT NULL LIMIT 100"""  # noqa: S608
            cursor.execute(loose_scan)
            values: list[Any] = [row[0] for row in cursor.fetchall()]
            if field.null:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} IS NULL)")  # noqa: S608
                if cursor.fetchone()[0]:
                    values.append(None)
        self.lookup_choices = values  # type: ignore[assignment]  # iterated only: a list does


def _field_and_lookup(spec: str) -> tuple[str, str]:
    if spec.startswith("="):
        return spec[1:], "exact"  # ids, keys and tokens: as typed, by the column's own index
    if spec.startswith("^"):
        return spec[1:], "istartswith"
    return spec.lstrip("@"), "istartswith"


def indexed_condition(model: type[models.Model], spec: str, term: str) -> models.Q | None:
    """The condition a search field ``spec`` puts on ``model`` for ``term``, by an indexed lookup; None when the
    term cannot match (not a UUID for a UUID field, not a number for a number). A relation is resolved first on
    the related model (at most ``SEARCH_ROWS_PER_FIELD`` of its rows), then looked up by its foreign key."""
    path, lookup = _field_and_lookup(spec)
    name, _, rest = path.partition("__")
    try:
        field = model._meta.get_field("pk" if name == "pk" else name) if name != "pk" else model._meta.pk
    except FieldDoesNotExist:
        return None
    assert field is not None
    if field.is_relation and rest and rest not in ("exact", "istartswith"):
        related = field.related_model
        assert isinstance(related, type)
        inner = indexed_condition(related, ("=" if lookup == "exact" else "^") + rest, term)
        if inner is None:
            return None
        ids = list(related._default_manager.filter(inner).values_list("pk", flat=True)[:SEARCH_ROWS_PER_FIELD])
        return models.Q(**{f"{name}__in": ids})
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.UUIDField):
        try:
            return models.Q(**{name: uuid.UUID(term)})
        except ValueError:
            return None
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        try:
            return models.Q(**{name: field.to_python(term)})
        except ValidationError:
            return None
    if isinstance(field, models.CharField | models.TextField):
        return models.Q(**{f"{name}__{lookup}": term})
    return None


def search_help(model: type[models.Model], search_fields: Sequence[str]) -> str:
    """"Search by: vehicle code (beginning), trip id (exact)." from the search fields."""
    parts = []
    for spec in search_fields:
        path, lookup = _field_and_lookup(spec)
        label, field = _label(model, path)
        exact = lookup == "exact" or isinstance(field, models.UUIDField | models.IntegerField | models.DecimalField)
        parts.append(f"{label} ({'exact' if exact else 'beginning'})")
    return ("Search by " + ", ".join(parts) + f"; large table: no search inside a text, at most the newest "
            f"{SEARCH_ROWS_PER_FIELD:,} matches of each.")


def _label(model: type[models.Model], path: str) -> tuple[str, Any]:
    names, field = [], None
    current: Any = model
    for part in path.split("__"):
        try:
            field = current._meta.pk if part == "pk" else current._meta.get_field(part)
        except FieldDoesNotExist:
            break
        names.append(str(getattr(field, "verbose_name", part)))
        if field.is_relation:
            current = field.related_model
            field = getattr(field, "target_field", field)
    return " ".join(dict.fromkeys(names)), field
