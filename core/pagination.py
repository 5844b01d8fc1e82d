from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor
from rest_framework.request import Request

from core.errors import CursorInvalid


class CursorPagination(pagination.CursorPagination):
    """Opaque-cursor pagination for every list: stable under inserts, O(1) per page.

    A cursor is base64 of a query string the client can forge, so its position is checked against the ordering
    field before it reaches a query: any cursor that is not one we could have issued is 400 ``cursor_invalid``.
    """

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 100
    _model: type[Model] | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        self._model = queryset.model if isinstance(queryset, QuerySet) else None
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise CursorInvalid() from None
        if cursor is not None and cursor.position is not None:
            self._position_check(cursor.position)
        return cursor

    def _position_check(self, position: object) -> None:
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]  # type: ignore[index]
        if self._model is None:
            return
        try:
            field = self._model._meta.get_field(ordering.lstrip("-"))
        except FieldDoesNotExist:
            return  # an annotation: nothing to check it against
        if not isinstance(field, Field):
            return  # a reverse relation: never a cursor's ordering
        try:
            field.get_prep_value(field.to_python(position))
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise CursorInvalid() from None
