"""Page-number pagination with validated query parameters and its OpenAPI shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from fala_clip.api.fields import QuerySerializer

MAX_PAGE_SIZE = 100


class PageQuerySerializer(QuerySerializer):
    """``page`` and ``page_size``: positive whole numbers (else 400, never a silent default)."""

    page = serializers.IntegerField(min_value=1, required=False, help_text="1-based page number.")
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, required=False, help_text=f"Items per page (1-{MAX_PAGE_SIZE})."
    )


class Pagination(PageNumberPagination):
    """Page-number pagination; clients may ask for up to 100 items a page.

    DRF falls back to the default size for ``page_size=-0.99`` and answers 404
    for ``page=abc``; both are client errors, answered 400 here.  A page past
    the last one is 404 ``not_found``.
    """

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        PageQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        return super().paginate_queryset(queryset, request, view=view)


def paginated(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The OpenAPI shape of a page of ``serializer_class``: ``{count, next, previous, results}``."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        f"Paginated{name}List",
        {
            "count": serializers.IntegerField(min_value=0),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )
