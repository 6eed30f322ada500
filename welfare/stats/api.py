from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
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
from welfare.core.db import reporting_read
from welfare.core.errors import DomainError
from welfare.core.fields import StringField
from welfare.core.filters import EMPTY_PARAMETER
from welfare.core.roles import Role
from welfare.core.schema import refusals
from welfare.stats import rules, selectors
from welfare.stats.renderers import CSVRenderer, XLSXRenderer, export_headers

UNKNOWN_FORMAT = "Unknown format: use json, csv or xlsx."


class StatsOutput(serializers.Serializer):
    parameters = serializers.DictField()
    columns = serializers.ListField(child=StringField())
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


BOTH_PERIODS = "Give period or from and to, not both."


def configured(audience: str) -> rules.Protection:
    """The configured protection of an audience (settings STATS_K_HR, STATS_K_BOARD)."""
    return rules.protection_for(audience, hr_k=settings.STATS_K_HR, board_k=settings.STATS_K_BOARD)


PERIOD_REFUSALS = (
    "a period that has not ended (the quarter in progress is never published), or from and to "
    "that are not one whole quarter",
    "a grouping with two periods or a repeat",
)
QUERY_NAMES = ("group_by", "period", "from", "to", "audience", "format")


def parse_request(
    query: Mapping[str, str], allowed: list[str], default_group: str
) -> tuple[list[str], date, date, rules.Protection]:
    """Grouping, one ended quarter (half-open) and the audience's configured protection;
    anything else is a 400 naming the field. `k` is never read from the query: stepping it
    would give each figure's exact head-count."""
    problems: dict[str, list[str]] = {
        name: [EMPTY_PARAMETER] for name in QUERY_NAMES if query.get(name) == ""
    }
    if problems:
        raise DomainError(fields=problems)
    if "k" in query:
        problems["k"] = [rules.K_FROM_CONFIGURATION]
    try:
        dims = rules.check_grouping(query.get("group_by", default_group).split(","), allowed)
    except ValueError as error:
        problems["group_by"] = [str(error)]
        dims = []
    protection = None
    try:
        protection = configured(query.get("audience", "hr"))
    except ValueError as error:
        problems["audience"] = [str(error)]
    today = clock.today()
    quarter = rules.last_ended_quarter(today)
    if query.get("period") and (query.get("from") or query.get("to")):
        problems["period"] = [BOTH_PERIODS]
    elif query.get("period"):
        quarter = query["period"]
    elif query.get("from") or query.get("to"):
        months: dict[str, date] = {}
        for name in ("from", "to"):
            try:
                months[name] = rules.parse_month(query.get(name, ""))
            except ValueError as error:
                problems[name] = [f"{error} {rules.BAD_PERIOD}"]
        if len(months) == 2:
            try:
                quarter = rules.quarter_from_months(months["from"], months["to"])
            except ValueError as error:
                problems["from"] = [str(error)]
    start = end = today
    if "period" not in problems and "from" not in problems and "to" not in problems:
        try:
            start, end = rules.ended_quarter(quarter, today)
        except ValueError as error:
            problems["period" if query.get("period") else "from"] = [str(error)]
    if problems or protection is None:
        raise DomainError(fields=problems)
    return dims, start, end, protection


MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
AUDIENCE_TEXT = (
    "whose protection: hr (k = STATS_K_HR, default 5) or board (k = STATS_K_BOARD, default "
    "10); k itself is not a parameter"
)


def _describe(allowed: list[str], default: str) -> list[OpenApiParameter]:
    one = "|".join(allowed)
    return [
        OpenApiParameter(
            "group_by",
            str,
            pattern=f"^({one})(,({one}))?$",
            description=f"one or two of {', '.join(allowed)} (default {default}); at most one "
            "period, no repeats",
        ),
        OpenApiParameter(
            "period",
            str,
            pattern=r"^[0-9]{4}Q[1-4]$",
            description="one ended calendar quarter, YYYYQn (default: the last ended quarter)",
        ),
        OpenApiParameter(
            "from",
            str,
            pattern=MONTH_PATTERN,
            description="first month of one ended quarter, YYYY-MM (with `to`)",
        ),
        OpenApiParameter(
            "to",
            str,
            pattern=MONTH_PATTERN,
            description="last month of the same quarter, YYYY-MM (with `from`)",
        ),
        OpenApiParameter("audience", str, enum=list(rules.AUDIENCES), description=AUDIENCE_TEXT),
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

    @classmethod
    def table(cls, query: Mapping[str, str], *, using: str) -> selectors.Table:
        dims, start, end, protection = parse_request(query, cls.allowed, cls.default_group)
        return cls.build(dims, start, end, protection, using=using)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if response.status_code >= 400:  # an error is JSON whatever format was asked for
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def get(self, request: Request) -> Response:
        table = stats_read(type(self), actor=caller(request), query=request.query_params)
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
    @refusals(*PERIOD_REFUSALS)
    def get(self, request: Request) -> Response:
        return super().get(request)


class CheckinStatsView(StatsView):
    """Check-ins by unit or unit kind and quarter or month: due, on time, late, overdue, missed."""

    allowed = ["unit", "unit_kind", "quarter", "month"]
    default_group = "unit,quarter"
    build = staticmethod(selectors.checkins_table)

    @extend_schema(parameters=_describe(allowed, default_group), responses=RESPONSES)
    @refusals(*PERIOD_REFUSALS)
    def get(self, request: Request) -> Response:
        return super().get(request)


class AlertStatsView(StatsView):
    """Alerts by kind, unit or unit kind and month or quarter (clinical alerts left out)."""

    allowed = ["kind", "unit", "unit_kind", "month", "quarter"]
    default_group = "kind,month"
    build = staticmethod(selectors.alerts_table)

    @extend_schema(parameters=_describe(allowed, default_group), responses=RESPONSES)
    @refusals(*PERIOD_REFUSALS)
    def get(self, request: Request) -> Response:
        return super().get(request)


class RotationStatsView(StatsView):
    """Time in post of everyone posted on the last day of the quarter, in bands (0-12, 12-24,
    24+ months), by unit or unit kind."""

    allowed = ["unit", "unit_kind"]
    default_group = "unit"

    @classmethod
    def table(cls, query: Mapping[str, str], *, using: str) -> selectors.Table:
        dims, _start, end, protection = parse_request(query, cls.allowed, cls.default_group)
        return selectors.rotation_table(dims, protection, day=end - timedelta(days=1), using=using)

    @extend_schema(
        parameters=_describe(allowed, default_group),
        responses=RESPONSES,
    )
    @refusals(*PERIOD_REFUSALS)
    def get(self, request: Request) -> Response:
        return super().get(request)


def stats_read(
    view: type[StatsView], *, actor: Any, query: Mapping[str, str], via: str = "api", **detail: Any
) -> selectors.Table:
    """One statistics table as HR asks for it (query checked, table built, the read audited
    with its grouping, period and audience): the one use case behind the API and the HR
    page and its downloads. The table is read from the reporting database (a read replica
    when one is configured and current); the audit event is written on the primary."""
    table = reporting_read(lambda using: view.table(query, using=using))
    audit_record(
        actor=actor,
        action=f"stats.{table.name}",
        detail={
            "group_by": table.dims,
            "from": table.parameters["from"],
            "to": table.parameters["to"],
            "audience": table.parameters["audience"],
            "via": via,
            **detail,
        },
    )
    return table
