from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from welfare.accounts.api import ERROR_RESPONSES
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.api import ApiView, caller
from welfare.core.errors import DomainError
from welfare.core.roles import Role
from welfare.stats import rules, selectors
from welfare.stats.renderers import CSVRenderer, XLSXRenderer, export_headers

MAX_MONTHS = 36
UNKNOWN_FORMAT = "Unknown format: use json, csv or xlsx."


class StatsOutput(serializers.Serializer):
    parameters = serializers.DictField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.DictField())
    totals = serializers.ListField(child=serializers.DictField())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (bool(v) if k == rules.SUPPRESSED else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def published(table: selectors.Table) -> dict[str, Any]:
    return {
        "parameters": table.parameters,
        "columns": table.columns,
        "rows": _records(table.cells()),
        "totals": _records(table.totals()),
    }


def default_months() -> tuple[date, date]:
    """The last twelve whole months."""
    today = clock.today()
    last = date(today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1, 1)
    first = date(last.year - 1 + (last.month == 12), 1 if last.month == 12 else last.month + 1, 1)
    return first, last


def parse_request(
    request: Request, allowed: list[str], default_group: str
) -> tuple[list[str], date, date, rules.Protection]:
    problems: dict[str, list[str]] = {}
    query = request.query_params
    try:
        dims = rules.check_grouping(query.get("group_by", default_group).split(","), allowed)
    except ValueError as error:
        problems["group_by"] = [str(error)]
        dims = []
    first, last = default_months()
    for name in ("from", "to"):
        if query.get(name):
            try:
                parsed = rules.parse_month(query[name])
            except ValueError as error:
                problems[name] = [str(error)]
                continue
            first, last = (parsed, last) if name == "from" else (first, parsed)
    if first > last and "from" not in problems and "to" not in problems:
        problems["from"] = [rules.BAD_RANGE]
    k = 5
    if query.get("k"):
        try:
            k = int(query["k"])
        except ValueError:
            problems["k"] = [rules.K_TOO_SMALL]
    if k < rules.MIN_K:
        problems["k"] = [rules.K_TOO_SMALL]
    if problems:
        raise DomainError(fields=problems)
    start, end = rules.whole_periods(first, last, dims)
    if (end.year - start.year) * 12 + end.month - start.month > MAX_MONTHS:
        raise DomainError(rules.TOO_LONG.format(months=MAX_MONTHS), field="from")
    return dims, start, end, rules.Protection(k)


def _describe(allowed: list[str], default: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "group_by", str, description=f"one or two of {', '.join(allowed)} (default {default})"
        ),
        OpenApiParameter(
            "from", str, description="first whole month, YYYY-MM (default: twelve months ago)"
        ),
        OpenApiParameter("to", str, description="last whole month, YYYY-MM (default: last month)"),
        OpenApiParameter(
            "k", int, description="minimum people per published cell; at least 5 (default 5)"
        ),
        OpenApiParameter("format", str, enum=["json", "csv", "xlsx"]),
    ]


class StatsView(ApiView):
    """Anonymised statistics for HR: no row identifies a person."""

    roles = {Role.HR}
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    allowed: list[str] = []
    default_group = ""
    build: Callable[..., selectors.Table]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404 as unknown:  # DRF's answer to an unknown `?format=`: a 400 says why
            raise DomainError(UNKNOWN_FORMAT, field="format") from unknown

    def table(self, request: Request) -> selectors.Table:
        dims, start, end, protection = parse_request(request, self.allowed, self.default_group)
        return type(self).build(dims, start, end, protection)

    def get(self, request: Request) -> Response:
        table = self.table(request)
        audit_record(
            actor=caller(request),
            action=f"stats.{table.name}",
            detail={
                "group_by": table.dims,
                "from": table.parameters["from"],
                "to": table.parameters["to"],
            },
        )
        data = published(table)
        response = Response(data)
        if request.accepted_renderer.format in ("csv", "xlsx"):
            for header, value in export_headers(data, request.accepted_renderer.format).items():
                response[header] = value
        return response


RESPONSES: dict[Any, Any] = {
    (200, "application/json"): StatsOutput,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
    **ERROR_RESPONSES,
}


class ExposureStatsView(StatsView):
    """Exposure by unit or unit kind and month or quarter: people exposed, total and median
    hours, weighted index, shares by medium and category, share of person-weeks over limit."""

    allowed = ["unit", "unit_kind", "month", "quarter"]
    default_group = "unit,month"
    build = staticmethod(selectors.exposure_table)

    @extend_schema(parameters=_describe(allowed, default_group), responses=RESPONSES)
    def get(self, request: Request) -> Response:
        return super().get(request)


class CheckinStatsView(StatsView):
    """Check-ins by unit or unit kind and quarter or month: due, on time, late, overdue, missed."""

    allowed = ["unit", "unit_kind", "quarter", "month"]
    default_group = "unit,quarter"
    build = staticmethod(selectors.checkins_table)

    @extend_schema(parameters=_describe(allowed, default_group), responses=RESPONSES)
    def get(self, request: Request) -> Response:
        return super().get(request)


class AlertStatsView(StatsView):
    """Alerts by kind, unit or unit kind and month or quarter (clinical alerts left out)."""

    allowed = ["kind", "unit", "unit_kind", "month", "quarter"]
    default_group = "kind,month"
    build = staticmethod(selectors.alerts_table)

    @extend_schema(parameters=_describe(allowed, default_group), responses=RESPONSES)
    def get(self, request: Request) -> Response:
        return super().get(request)


class RotationStatsView(StatsView):
    """Time in post of everyone posted today, in bands (0-12, 12-24, 24+ months), by unit or
    unit kind."""

    allowed = ["unit", "unit_kind"]
    default_group = "unit"

    def table(self, request: Request) -> selectors.Table:
        dims, _start, _end, protection = parse_request(request, self.allowed, self.default_group)
        return selectors.rotation_table(dims, protection)

    @extend_schema(
        parameters=_describe(allowed, default_group)[:1] + _describe(allowed, default_group)[3:],
        responses=RESPONSES,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
