from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Opaque-cursor pagination for every list: stable under inserts, O(1) per page."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 100
