from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from welfare.core.filters import EMPTY_PARAMETER

PAGE_SIZE_INVALID = "Give a whole number from 1 to {maximum}, or leave page_size out."


class Pagination(PageNumberPagination):
    """`count`, `next`, `previous`, `results`; `?page_size=` from 1 to 500 (another value is
    a 400, not quietly the default); `?page=` from 1 (past the end: 404)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param) == "":
            raise ValidationError({self.page_query_param: [EMPTY_PARAMETER]})
        return super().get_page_number(request, paginator)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [PAGE_SIZE_INVALID.format(maximum=self.max_page_size)]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
