from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.fields import empty
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import DateTimeField, Serializer

from welfare.accounts.api import ERROR_RESPONSES, document_reads
from welfare.audit.services import audit_reads
from welfare.core import clock
from welfare.core.api import (
    ApiView,
    ApiViewSet,
    ScopedListRetrieveMixin,
    SelfCommittingApiViewSet,
    caller,
)
from welfare.core.errors import DomainError, Forbidden
from welfare.core.fields import (
    AwareDateTimeField,
    ModelSerializer,
    PrimaryKeyRelatedField,
    StringField,
)
from welfare.core.filters import (
    DATE_OR_INSTANT_SCHEMA,
    INSTANT_SCHEMA,
    ON_DESCRIPTION,
    DateOrInstantFilter,
    FilterSet,
    IdFilter,
    local_day_param,
    parse_date_or_instant,
    rename_filter,
)
from welfare.core.parsers import JsonParser, read_limited
from welfare.core.roles import Role
from welfare.core.schema import refusals
from welfare.exposure import rules, services
from welfare.exposure.models import (
    Activity,
    Category,
    ExposurePolicy,
    ExposureSession,
    Material,
    Restriction,
    SessionState,
    Source,
)
from welfare.exposure.rules import LimitState
from welfare.exposure.selectors import (
    exposure_get_for_user,
    exposure_summary,
    exposures_visible_to,
    histories_of,
    officer_for_user,
    policies_visible_to,
    restrictions_visible_to,
)
from welfare.people.models import Officer, Unit
from welfare.people.selectors import officer_get_for_user

NOT_FOUND = {404: OpenApiResponse(description="Not found, or not yours to see.")}
CONFLICT = {409: OpenApiResponse(description="Not the current version.")}
MAX_IMPORT_ROWS = 5000
IMPORT_TOO_LARGE = f"Send at most {MAX_IMPORT_ROWS} rows at a time."
CSV_FIELD_TOO_LONG = "Line {line}: a field is longer than {limit} characters."
CSV_UNREADABLE = "Line {line}: not readable as CSV (is a field longer than {limit} characters?)."
IMPORT_SHAPE = 'Send a JSON array of rows (or {"rows": [...]}), or CSV with a header row.'


# --- Sessions ---------------------------------------------------------------------------------


class ExposureVersionOutput(Serializer):
    """One version of a session: every field is always present, null where the type allows."""

    id = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=SessionState.choices, source="state", read_only=True)
    started_at = DateTimeField(read_only=True)
    ended_at = DateTimeField(read_only=True)
    material = serializers.ChoiceField(choices=Material.choices, read_only=True)
    category = serializers.ChoiceField(choices=Category.choices, read_only=True)
    violent = serializers.BooleanField(read_only=True)
    items_reviewed = serializers.IntegerField(read_only=True, allow_null=True)
    activity = serializers.ChoiceField(choices=Activity.choices, allow_blank=True, read_only=True)
    note = serializers.SerializerMethodField()
    # Named like Field.source, which the serializer's metaclass does not touch: it moves
    # declared fields off the class.
    source = serializers.ChoiceField(choices=Source.choices, read_only=True)  # type: ignore[assignment]
    reason = StringField(read_only=True, help_text="Why this version was made (amendments).")
    recorded_at = DateTimeField(read_only=True)
    recorded_by = serializers.IntegerField(source="recorded_by_id", read_only=True)
    changed_at = DateTimeField(
        read_only=True, allow_null=True, help_text="When this version was superseded or voided."
    )
    changed_by = serializers.IntegerField(source="changed_by_id", read_only=True, allow_null=True)
    void_reason = StringField(read_only=True)

    def get_note(self, session: ExposureSession) -> str | None:
        """The officer's own words: for them and OH, not for supervisors."""
        return session.note if self.context.get("show_notes") else None


class ExposureOutput(ExposureVersionOutput):
    officer = serializers.IntegerField(source="officer_id", read_only=True)
    lineage = serializers.UUIDField(read_only=True)
    client_ref = serializers.UUIDField(read_only=True, allow_null=True)
    superseded_by = serializers.IntegerField(
        source="superseded_by_id", read_only=True, allow_null=True
    )
    minutes = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    ORDER = (
        "id", "officer", "lineage", "client_ref", "superseded_by", "minutes", "version", "status",
        "started_at", "ended_at", "material", "category", "violent", "items_reviewed", "activity",
        "note", "source", "reason", "recorded_at", "recorded_by", "changed_at", "changed_by",
        "void_reason", "history",
    )  # fmt: skip

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.ORDER}

    def get_minutes(self, session: ExposureSession) -> float:
        return round((session.ended_at - session.started_at).total_seconds() / 60, 2)

    @extend_schema_field(ExposureVersionOutput(many=True))
    def get_history(self, session: ExposureSession) -> list[Any]:
        histories = self.context.get("histories") or {}
        versions = histories.get(session.lineage, [session])
        return [self._version_output.to_representation(v) for v in versions]

    @cached_property
    def _version_output(self) -> ExposureVersionOutput:
        """One version serializer per output (a list renders every row with one child)."""
        return ExposureVersionOutput(context=self.context)


class ExposureInput(Serializer):
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField()
    material = serializers.ChoiceField(choices=Material.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    violent = serializers.BooleanField(required=False, default=False)
    items_reviewed = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10_000_000
    )
    activity = serializers.ChoiceField(
        choices=Activity.choices, required=False, allow_blank=True, default=""
    )
    note = StringField(required=False, allow_blank=True, max_length=280, default="")
    client_ref = serializers.UUIDField()


class AmendInput(serializers.Serializer):
    """A reason, the fields to change (any of a session's, all optional), and optionally a
    client_ref so that a retried amendment is applied once."""

    reason = StringField(max_length=280)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in ExposureInput().get_fields().items():
            field.required = False
            field.default = empty
            fields[name] = field
        return fields


class VoidInput(serializers.Serializer):
    reason = StringField(max_length=280)


INCLUDABLE = {"void", "superseded"}
INCLUDE_PATTERN = "^(void|superseded)(,(void|superseded))?$"
INCLUDE_INVALID = "Give `void`, `superseded` or both, comma-separated."


class ExposureFilter(FilterSet):
    officer = IdFilter(field_name="officer_id")
    from_ = DateOrInstantFilter(field_name="ended_at", lookup_expr="gt", label="from")
    to = DateOrInstantFilter(field_name="started_at", lookup_expr="lt", end_of_day=True)
    material = django_filters.MultipleChoiceFilter(choices=Material.choices)
    category = django_filters.MultipleChoiceFilter(choices=Category.choices)
    source = django_filters.CharFilter()

    class Meta:
        model = ExposureSession
        fields: list[str] = []


rename_filter(ExposureFilter, "from_", "from")


def show_notes_for(user: Any) -> bool:
    return getattr(user, "role", None) in rules.NOTE_READERS


class CsvRowsParser(BaseParser):
    """`text/csv` with a header row, as review tools export it: within the body limit (413),
    each field within IMPORT_MAX_FIELD_CHARS (400 on `rows`, naming the line)."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return parse_csv(read_limited(stream, parser_context))


def parse_csv(content: bytes) -> list[dict[str, str]]:
    """Rows of a CSV with a header row; a field over IMPORT_MAX_FIELD_CHARS, or a body that
    is not CSV, is refused with a ValidationError on `rows` naming the line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("CSV must be UTF-8.") from exc
    limit = settings.IMPORT_MAX_FIELD_CHARS
    reader = csv.DictReader(io.StringIO(text))
    rows: list[dict[str, str]] = []
    try:
        for row in reader:
            if any(len(value or "") > limit for value in row.values() if isinstance(value, str)):
                raise serializers.ValidationError(
                    {"rows": [CSV_FIELD_TOO_LONG.format(line=reader.line_num, limit=limit)]}
                )
            rows.append(
                {
                    key.strip(): value.strip()
                    for key, value in row.items()
                    if key and isinstance(value, str) and value.strip()
                }
            )
    except csv.Error as exc:  # a field past the csv module's own limit, a NUL byte
        raise serializers.ValidationError(
            {"rows": [CSV_UNREADABLE.format(line=reader.line_num + 1, limit=limit)]}
        ) from exc
    return rows


class ImportRowInput(ExposureInput):
    staff_number = StringField(max_length=32)
    client_ref = StringField(max_length=100)  # type: ignore[assignment]
    note = None  # type: ignore[assignment]


def import_payload(*, actor: Any, payload: Any) -> services.ImportReport:
    """An import as a review tool sends it (a list of rows, or {"rows": [...]}), checked and
    stored: the one use case behind the API and the supervisor's upload page."""
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        payload = payload["rows"]
    if not isinstance(payload, list) or not payload:
        raise DomainError(IMPORT_SHAPE, field="rows")
    if len(payload) > MAX_IMPORT_ROWS:
        raise DomainError(IMPORT_TOO_LARGE, field="rows")
    return services.exposure_import(actor=actor, rows=validate_import_rows(payload))


def validate_import_rows(
    payload: list[Any],
) -> list[tuple[int, dict[str, Any] | None, dict[str, list[str]]]]:
    """Each row validated like a logged session: (row number, values or None, field errors)."""
    prepared: list[tuple[int, dict[str, Any] | None, dict[str, list[str]]]] = []
    for number, raw in enumerate(payload, start=1):
        row = ImportRowInput(data=raw if isinstance(raw, dict) else {})
        if row.is_valid():
            prepared.append((number, dict(row.validated_data), {}))
        else:
            prepared.append((number, None, {k: [str(m) for m in v] for k, v in row.errors.items()}))
    return prepared


class ImportRowOutput(serializers.Serializer):
    row = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=StringField())
    )


class ImportReportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rows = ImportRowOutput(many=True)


# Each row is checked by itself: one that does not fit (not an object, a field missing) is
# reported `rejected` with its field messages, and the others are stored. So the body is an
# array of any values, not of valid rows.
IMPORT_ROWS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_IMPORT_ROWS,
    "items": {
        "description": "A session, as an object: "
        + ", ".join(ImportRowInput().fields)
        + ". A row that does not fit is reported rejected, with its field messages.",
    },
}


@document_reads()
class ExposureViewSet(ScopedListRetrieveMixin, SelfCommittingApiViewSet):
    """Viewing sessions. Officers log their own; nothing is edited in place or deleted."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "create": {Role.OFFICER},
        "amend": {Role.OFFICER, Role.SUPERVISOR},
        "void": {Role.OFFICER, Role.SUPERVISOR},
        "import_rows": {Role.SUPERVISOR, Role.ADMIN},
    }
    http_method_names = ["get", "post", "head", "options"]
    body_limit_setting: str | None = None  # the import action allows IMPORT_MAX_BYTES
    model = ExposureSession
    serializer_class = ExposureOutput
    filterset_class = ExposureFilter
    ordering_fields = ["started_at", "ended_at", "recorded_at", "id"]
    ordering = ["-started_at", "-id"]

    def scoped_queryset(self) -> QuerySet[ExposureSession]:
        include = self.request.query_params.get("include")
        parts = set(include.split(",")) if include is not None else set()
        if include is not None and not parts <= INCLUDABLE:
            raise DomainError(INCLUDE_INVALID, field="include")
        return exposures_visible_to(self.request.user, include=parts)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["show_notes"] = show_notes_for(self.request.user)
        return context

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        context = kwargs.pop("context", None) or self.get_serializer_context()
        if rows is not None:
            context["histories"] = histories_of(rows if kwargs.get("many") else [rows])
        return ExposureOutput(*args, context=context, **kwargs)

    def _render(self, session: ExposureSession, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(session).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include",
                str,
                pattern=INCLUDE_PATTERN,
                description="`void` and/or `superseded`, comma-separated",
            ),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._render(exposure_get_for_user(request.user, kwargs["pk"]))

    @extend_schema(
        request=ExposureInput,
        responses={201: ExposureOutput, 200: ExposureOutput, **ERROR_RESPONSES},
        description="201 with the new session; 200 with the stored one if client_ref was used.",
    )
    @refusals(
        "an end before the start",
        "a session in the future, longer than a shift, or overlapping another",
    )
    def create(self, request: Request) -> Response:
        officer = officer_for_user(request.user)
        if officer is None:
            raise Forbidden(services.NO_OFFICER_RECORD, code="no_officer_record")
        data = ExposureInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.exposure_log(
            officer=officer, recorded_by=caller(request), **data.validated_data
        )
        if not result.created:
            return self._render(result.session, status.HTTP_200_OK)
        # A new session is its own whole history: no need to read it back.
        context = {
            **self.get_serializer_context(),
            "histories": {result.session.lineage: [result.session]},
        }
        output = ExposureOutput(result.session, context=context)
        return Response(output.data, status=status.HTTP_201_CREATED)

    @refusals(
        "an end before the start",
        "a session in the future, longer than a shift, or overlapping another",
    )
    @extend_schema(
        request=AmendInput,
        responses={201: ExposureOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def amend(self, request: Request, pk: str) -> Response:
        """A new version superseding this one (reason required)."""
        session = exposure_get_for_user(request.user, pk)
        data = AmendInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        client_ref = values.pop("client_ref", None)
        new = services.exposure_amend(
            session=session,
            actor=caller(request),
            reason=reason,
            changes=values,
            client_ref=client_ref,
        )
        return self._render(new, status.HTTP_201_CREATED)

    @extend_schema(
        request=VoidInput,
        responses={200: ExposureOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str) -> Response:
        """Mark the session void (reason required); it stays on record and stops counting."""
        session = exposure_get_for_user(request.user, pk)
        data = VoidInput(data=request.data)
        data.is_valid(raise_exception=True)
        voided = services.exposure_void(
            session=session, actor=caller(request), reason=data.validated_data["reason"]
        )
        return self._render(voided)

    @refusals("a body that is neither an array of rows nor CSV with a header row")
    @extend_schema(
        request={"application/json": IMPORT_ROWS, "text/csv": OpenApiTypes.STR},
        responses={200: ImportReportOutput, **ERROR_RESPONSES},
        description=(
            "Sessions for named officers (by staff number) from a review tool, as a JSON array "
            "or CSV with a header row. Each row is idempotent on its client_ref (any string up "
            "to 100 characters). Good rows are stored; the report says what happened to each."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[JsonParser, CsvRowsParser],
        body_limit_setting="IMPORT_MAX_BYTES",
    )
    def import_rows(self, request: Request) -> Response:
        report = import_payload(actor=caller(request), payload=request.data)
        body = {
            "created": report.count("created"),
            "duplicates": report.count("duplicate"),
            "rejected": report.count("rejected"),
            "rows": [vars(row) for row in report.rows],
        }
        return Response(ImportReportOutput(body).data)


# --- Summary ------------------------------------------------------------------------------------


class LimitStateOutput(serializers.Serializer):
    rule = StringField()
    period = StringField()
    unit = StringField()
    used = serializers.FloatField()
    limit = serializers.FloatField()
    warning_at = serializers.FloatField()
    state = serializers.ChoiceField(choices=["ok", "warning", "breach"])
    source = StringField()  # type: ignore[assignment]


class ExposureSummaryOutput(serializers.Serializer):
    officer = serializers.IntegerField()
    on = serializers.DateField()
    day_minutes = serializers.FloatField()
    week_minutes = serializers.FloatField()
    rolling_28d_minutes = serializers.FloatField()
    weighted_index = serializers.FloatField()
    week_index = serializers.FloatField()
    rolling_28d_index = serializers.FloatField()
    limits = serializers.SerializerMethodField()
    breaches = LimitStateOutput(many=True)
    next_break_due_at = DateTimeField(allow_null=True)

    @extend_schema_field(serializers.DictField(child=LimitStateOutput()))
    def get_limits(self, summary: Any) -> dict[str, Any]:
        states: list[LimitState] = summary.limits
        return {state.rule: LimitStateOutput(state).data for state in states}


RUNNING_INVALID = "Give the start of the running session as an ISO 8601 instant with offset."
# No session is longer (the overlap rule's bound too): an older start is no running session.
RUNNING_AT_MOST = timedelta(hours=24)
RUNNING_WINDOW = "A running session started within the last 24 hours, and not in the future."


class ExposureSummaryView(ApiView):
    """Day, 7-day and 28-day totals and every limit's state for one officer on one date."""

    roles = {Role.OFFICER, Role.SUPERVISOR, Role.OH}

    @extend_schema(
        parameters=[
            OpenApiParameter("on", DATE_OR_INSTANT_SCHEMA, description=ON_DESCRIPTION),
            OpenApiParameter(
                "running_since",
                INSTANT_SCHEMA,
                description="start of a session in progress (ISO 8601)",
            ),
        ],
        responses={200: ExposureSummaryOutput, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @refusals("a running session that started more than 24 hours ago, or has not started")
    def get(self, request: Request, officer_id: int) -> Response:
        officer = officer_get_for_user(request.user, officer_id)
        on = local_day_param(request.query_params)
        running = None
        if "running_since" in request.query_params:
            try:
                parsed = parse_date_or_instant(request.query_params["running_since"])
            except ValueError as exc:
                raise DomainError(RUNNING_INVALID, field="running_since") from exc
            if not isinstance(parsed, datetime):
                raise DomainError(RUNNING_INVALID, field="running_since")
            if not clock.now() - RUNNING_AT_MOST <= parsed <= clock.now():
                raise DomainError(RUNNING_WINDOW, field="running_since")
            running = parsed
        summary = exposure_summary(officer, on=on, running_since=running)
        return Response(ExposureSummaryOutput(summary).data)


# --- Policies -----------------------------------------------------------------------------------


def validate_weights(value: Any) -> dict[str, Any]:
    problems: list[str] = []
    if not isinstance(value, dict):
        raise serializers.ValidationError(
            "Weights are {medium: {...}, category: {...}, violent: n}."
        )
    for group, names in (("medium", Material.values), ("category", Category.values)):
        table = value.get(group)
        if not isinstance(table, dict) or set(table) != set(names):
            problems.append(f"{group} needs a weight for each of: {', '.join(names)}.")
            continue
        for name, weight in table.items():
            if (
                not isinstance(weight, int | float)
                or isinstance(weight, bool)
                or not 0 < weight <= 10
            ):
                problems.append(f"{group}.{name} must be a number above 0 and at most 10.")
    violent = value.get("violent")
    if not isinstance(violent, int | float) or isinstance(violent, bool) or not 0 < violent <= 10:
        problems.append("violent must be a number above 0 and at most 10.")
    if problems:
        raise serializers.ValidationError(problems)
    return value


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "description": "A local time in the force's time zone, HH:MM[:SS], without an offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of the force's day. Django's parser drops an offset, so one is refused
    rather than silently ignored (OpenAPI's `time` format would ask clients for one)."""

    default_error_messages = {"offset": "Give a local time without an offset, as HH:MM."}

    def to_internal_value(self, value: Any) -> time:
        parsed: time = super().to_internal_value(value)
        try:
            has_offset = time.fromisoformat(str(value).strip()).tzinfo is not None
        except ValueError:
            has_offset = False
        if has_offset:
            self.fail("offset")
        return parsed


class PolicyOutput(ModelSerializer):
    scope = serializers.SerializerMethodField()
    latest_end = LocalTimeField(allow_null=True, read_only=True)

    class Meta:
        model = ExposurePolicy
        fields = ["id", "scope", "unit", *services.POLICY_FIELDS, "updated_at"]

    def get_scope(self, policy: ExposurePolicy) -> str:
        return "unit" if policy.unit_id else "force"


class PolicyInput(serializers.Serializer):
    daily_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1440
    )
    week_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=10080
    )
    rolling_28d_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=40320
    )
    daily_index = serializers.FloatField(required=False, allow_null=True, min_value=1)
    week_index = serializers.FloatField(required=False, allow_null=True, min_value=1)
    rolling_28d_index = serializers.FloatField(required=False, allow_null=True, min_value=1)
    break_after_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=5, max_value=1440
    )
    break_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=240
    )
    latest_end = LocalTimeField(required=False, allow_null=True)
    max_consecutive_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=28
    )
    warning_ratio = serializers.FloatField(
        required=False, allow_null=True, min_value=0.1, max_value=1.0
    )
    weights = serializers.JSONField(required=False, allow_null=True)

    def validate_weights(self, value: Any) -> Any:
        return None if value is None else validate_weights(value)


class PolicyCreateInput(PolicyInput):
    unit = PrimaryKeyRelatedField(queryset=Unit.objects.all())


@document_reads()
class PolicyViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Exposure rules as data: the force default and unit overrides (admin and OH)."""

    roles = {
        action: {Role.ADMIN, Role.OH} for action in ("list", "retrieve", "create", "partial_update")
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    model = ExposurePolicy
    serializer_class = PolicyOutput
    pagination_class = None

    def scoped_queryset(self) -> QuerySet[ExposurePolicy]:
        return policies_visible_to(self.request.user)

    @extend_schema(request=PolicyCreateInput, responses={201: PolicyOutput, **ERROR_RESPONSES})
    @refusals(
        "an id in the body that names no record the caller may use",
        "limits that contradict each other",
    )
    def create(self, request: Request) -> Response:
        data = PolicyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        unit = values.pop("unit")
        policy = services.policy_create_for_unit(actor=caller(request), unit=unit, values=values)
        return Response(PolicyOutput(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=PolicyInput, responses={200: PolicyOutput, **ERROR_RESPONSES, **NOT_FOUND}
    )
    @refusals("limits that contradict each other")
    def partial_update(self, request: Request, pk: str) -> Response:
        policy = self.get_object()
        data = PolicyInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        policy = services.policy_update(
            actor=caller(request), policy=policy, changes=dict(data.validated_data)
        )
        return Response(PolicyOutput(policy).data)


# --- Restrictions ------------------------------------------------------------------------------


class RestrictionOutput(ModelSerializer):
    reason = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()

    class Meta:
        model = Restriction
        fields = [
            "id", "officer", "starts_on", "ends_on", "daily_minutes", "week_minutes",
            "forbidden_media", "active", "reason", "created_at", "lifted_at",
        ]  # fmt: skip

    def get_reason(self, restriction: Restriction) -> str | None:
        """Clinical: OH only. Everyone else sees the limit without its reason."""
        return restriction.reason if self.context.get("clinical") else None

    def get_active(self, restriction: Restriction) -> bool:
        return rules.restriction_active(
            starts_on=restriction.starts_on,
            ends_on=restriction.ends_on,
            lifted=restriction.lifted_at is not None,
            today=clock.today(),
        )


class RestrictionInput(serializers.Serializer):
    officer = PrimaryKeyRelatedField(queryset=Officer.objects.all())
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True)
    daily_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1440
    )
    week_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10080
    )
    forbidden_media = serializers.ListField(
        child=serializers.ChoiceField(choices=Material.choices),
        required=False,
        max_length=len(Material.values),
    )
    reason = StringField(required=False, allow_blank=True, max_length=500)


class RestrictionFilter(FilterSet):
    officer = IdFilter(field_name="officer_id")

    class Meta:
        model = Restriction
        fields = ["officer"]


@document_reads()
class RestrictionViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """OH-set restrictions: the officer and supervisors see the limits, never the reason."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "create": {Role.OH},
        "lift": {Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = Restriction
    serializer_class = RestrictionOutput
    filterset_class = RestrictionFilter

    def scoped_queryset(self) -> QuerySet[Restriction]:
        return restrictions_visible_to(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        role = getattr(self.request.user, "role", None) if self.request else None
        return {**super().get_serializer_context(), "clinical": role == Role.OH}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        data = response.data
        rows = data.get("results", []) if isinstance(data, dict) else data
        self._audit_reason_reads(rows if isinstance(rows, Sequence) else [])
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        self._audit_reason_reads([response.data])
        return response

    def _audit_reason_reads(self, rows: Sequence[Any]) -> None:
        """A restriction's reason is clinical: OH reading one is listed in the officer's
        "who opened my record"."""
        if caller(self.request).role == Role.OH:
            audit_reads(
                actor=caller(self.request),
                action="restriction.read",
                reads=[(row["officer"], row["id"]) for row in rows if row.get("reason")],
                key="restrictions",
            )

    @extend_schema(request=RestrictionInput, responses={201: RestrictionOutput, **ERROR_RESPONSES})
    @refusals(
        "an id in the body that names no record the caller may use",
        "a restriction that limits nothing, or ends before it starts",
    )
    def create(self, request: Request) -> Response:
        data = RestrictionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        restriction = services.restriction_create(actor=caller(request), **values)
        return Response(self.get_serializer(restriction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RestrictionOutput, **ERROR_RESPONSES, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, pk: str) -> Response:
        restriction = services.restriction_lift(
            actor=caller(request), restriction=self.get_object()
        )
        return Response(self.get_serializer(restriction).data)
