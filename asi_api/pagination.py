from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response


class PageNumberPagination(pagination.PageNumberPagination):
    """SPEC §1: `?page=N&limit=N`, default 150, larger limits clamped to 500.

    The envelope carries page *numbers* in `next`/`previous`, not URLs. An out-of-range page is
    a 404 (DRF's `NotFound`).
    """

    page_size = 150
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({"limit": ["A positive integer is required."]}) from None
        if value < 1:
            raise ValidationError({"limit": ["A positive integer is required."]})
        return min(value, self.max_page_size)

    def get_paginated_response(self, data) -> Response:
        page = self.page
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "next": page.next_page_number() if page.has_next() else None,
                "previous": page.previous_page_number() if page.has_previous() else None,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "page", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "page": {"type": "integer", "example": 2},
                "next": {"type": "integer", "nullable": True, "example": 3},
                "previous": {"type": "integer", "nullable": True, "example": 1},
                "results": schema,
            },
        }
