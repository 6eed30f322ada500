from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import DateTimeField

from welfare.accounts.api import ERROR_RESPONSES, RoleGrantOutput, document_reads
from welfare.accounts.models import GrantKind, User
from welfare.accounts.services import oh_lead_set, role_grant_propose
from welfare.alerts.api import AlertOutput
from welfare.alerts.models import Alert
from welfare.alerts.services import case_assign
from welfare.casework import rules, services
from welfare.casework.models import CaseNote, ManagementReport, ReportState
from welfare.casework.selectors import (
    QUEUE_SCOPES,
    access_log_of,
    case_officer,
    case_parts,
    cases_for,
    clinicians,
    queue_item,
    reports_visible_to,
    weekly_exposure,
    work_queue,
)
from welfare.checkins import instruments
from welfare.checkins.api import CheckinClinicalOutput
from welfare.checkins.models import CheckIn, Outcome, Screening
from welfare.checkins.selectors import checkin_get_for_user
from welfare.core import clock
from welfare.core.api import (
    ApiView,
    ApiViewSet,
    ScopedListRetrieveMixin,
    SelfCommittingApiView,
    caller,
)
from welfare.core.db import get_or_404
from welfare.core.errors import DomainError
from welfare.core.fields import ModelSerializer, PrimaryKeyRelatedField, StringField
from welfare.core.pagination import Pagination
from welfare.core.permissions import PUBLIC
from welfare.core.roles import Role
from welfare.core.schema import refusals
from welfare.exposure.api import ExposureSummaryOutput, RestrictionOutput
from welfare.exposure.selectors import exposure_summary
from welfare.people.api import OfficerOutput

NOT_FOUND = {404: OpenApiResponse(description="Not found, or not yours to see.")}
NOT_SAVED = {
    503: OpenApiResponse(
        description="A questionnaire with a critical answer could not be stored: nothing was "
        "saved, OH was not told; `{detail, code: not_saved, support}` carries the support "
        "message to show the officer all the same."
    )
}
CONFLICT = {409: OpenApiResponse(description="Not possible in the report's present state.")}
SCOPE_UNKNOWN = "Choose mine, unassigned or all."


# --- Screening --------------------------------------------------------------------------------


class InstrumentBandOutput(serializers.Serializer):
    low = serializers.IntegerField()
    high = serializers.IntegerField()
    name = StringField()


class InstrumentOutput(serializers.Serializer):
    key = StringField()
    name = StringField()
    version = StringField()
    prompt = StringField()
    items = serializers.ListField(child=StringField())
    options = serializers.ListField(child=StringField())
    low = serializers.IntegerField()
    high = serializers.IntegerField()
    bands = InstrumentBandOutput(many=True)
    licence = StringField()
    attribution = StringField()


class InstrumentListView(ApiView):
    """The installed questionnaires, with their wording verbatim and their licences."""

    roles = {Role.OFFICER, Role.OH}

    @extend_schema(responses={200: InstrumentOutput(many=True), **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(InstrumentOutput(instruments.available(), many=True).data)


class ScreeningInput(serializers.Serializer):
    instrument = StringField(max_length=16)
    answers = serializers.ListField(child=serializers.JSONField(), max_length=100)
    comment = StringField(required=False, allow_blank=True, max_length=2000)


class ScreeningResultOutput(ModelSerializer):
    """What the officer sees of their own questionnaire: the result, not OH's workings."""

    class Meta:
        model = Screening
        fields = ["id", "checkin", "instrument", "total", "band", "flags", "change", "submitted_at"]


class SupportContactOutput(serializers.Serializer):
    name = StringField()
    how = StringField()
    phone = StringField(help_text="Digits to dial, or empty when it is not a phone line.")
    hours = StringField()
    note = StringField()


class SupportOutput(serializers.Serializer):
    """Where to get help now, what happens next, and who sees the answers."""

    message = StringField()
    danger = StringField()
    follow_up = StringField()
    contact_by = DateTimeField(
        allow_null=True, help_text="When occupational health will have been in touch, if told."
    )
    who_sees = StringField()
    contacts = SupportContactOutput(many=True)


class ScreeningSubmittedOutput(ScreeningResultOutput):
    """The result of a questionnaire just sent. `support` is there when the officer sent it
    and an answer carries a critical flag (PHQ-9 item 9 above 0): show it to them at once.
    (A clinician who enters answers with the officer is the support.)"""

    support = serializers.SerializerMethodField()

    class Meta(ScreeningResultOutput.Meta):
        fields = [*ScreeningResultOutput.Meta.fields, "support"]

    @extend_schema_field(SupportOutput(allow_null=True))
    def get_support(self, screening: Screening) -> dict[str, Any] | None:
        instrument = instruments.get(screening.instrument)
        if instrument is None or not instrument.critical(screening.flags):
            return None
        if screening.officer.user_id != screening.submitted_by_id:
            return None
        contact_by = services.screening_contact_by(screening)
        return dict(SupportOutput(services.support_info(contact_by=contact_by)).data)


class ScreeningClinicalOutput(ScreeningResultOutput):
    answers = serializers.SerializerMethodField()
    comment = serializers.SerializerMethodField()

    class Meta(ScreeningResultOutput.Meta):
        fields = [
            *ScreeningResultOutput.Meta.fields, "instrument_version", "previous_total", "answers",
            "comment", "submitted_by",
        ]  # fmt: skip

    def get_answers(self, screening: Screening) -> list[int]:
        return services.screening_answers(screening)

    def get_comment(self, screening: Screening) -> str:
        return services.screening_comment(screening)


class ScreeningView(SelfCommittingApiView):
    """Questionnaires of a check-in. The officer answers for their own open check-in and sees
    totals and bands; OH sees answers too, and every such read is audited."""

    roles = {Role.OFFICER, Role.OH}

    @extend_schema(
        responses={200: ScreeningResultOutput(many=True), **ERROR_RESPONSES, **NOT_FOUND},
        description="Occupational health also receives the workings: `instrument_version`, "
        "`previous_total`, `answers`, `comment` and `submitted_by` (as in the case view).",
    )
    def get(self, request: Request, checkin_id: int) -> Response:
        checkin = checkin_get_for_user(request.user, checkin_id)
        screenings = Screening.objects.filter(checkin=checkin).order_by("-submitted_at", "-id")
        if caller(request).role == Role.OH:
            services.record_read(
                actor=caller(request), action="screening.read", officer_id=checkin.officer_id,
                detail={"checkin": checkin.pk},
            )  # fmt: skip
            return Response(ScreeningClinicalOutput(screenings, many=True).data)
        return Response(ScreeningResultOutput(screenings, many=True).data)

    @extend_schema(
        request=ScreeningInput,
        responses={201: ScreeningSubmittedOutput, **ERROR_RESPONSES, **NOT_FOUND, **NOT_SAVED},
    )
    @refusals("an instrument that is not installed", "answers that do not fit the instrument")
    def post(self, request: Request, checkin_id: int) -> Response:
        checkin = checkin_get_for_user(request.user, checkin_id)
        data = ScreeningInput(data=request.data)
        data.is_valid(raise_exception=True)
        screening = services.screening_submit(
            actor=caller(request),
            checkin=checkin,
            instrument_key=data.validated_data["instrument"],
            answers=data.validated_data["answers"],
            comment=data.validated_data.get("comment", ""),
        )
        return Response(ScreeningSubmittedOutput(screening).data, status=status.HTTP_201_CREATED)


class SelfCheckInput(serializers.Serializer):
    instrument = StringField(max_length=16)
    answers = serializers.ListField(child=serializers.JSONField(), max_length=100)


class SelfCheckView(SelfCommittingApiView):
    """An officer's own questionnaires outside any check-in (a self-check, at any time), and
    the results of all their questionnaires. A self-check goes to occupational health like any
    other: its flags raise the same alerts; the supervisor never learns of it."""

    roles = {Role.OFFICER}
    pagination_class = Pagination

    @extend_schema(
        responses={
            200: ScreeningResultOutput(many=True),
            **ERROR_RESPONSES,
            404: OpenApiResponse(description="No such page."),
        }
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        rows = Screening.objects.filter(officer__user=caller(request)).order_by(
            "-submitted_at", "-id"
        )
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ScreeningResultOutput(page, many=True).data)

    @extend_schema(
        request=SelfCheckInput,
        responses={201: ScreeningSubmittedOutput, **ERROR_RESPONSES, **NOT_SAVED},
    )
    @refusals("an instrument that is not installed", "answers that do not fit the instrument")
    def post(self, request: Request) -> Response:
        data = SelfCheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        screening = services.screening_submit(
            actor=caller(request),
            checkin=None,
            instrument_key=data.validated_data["instrument"],
            answers=data.validated_data["answers"],
        )
        return Response(ScreeningSubmittedOutput(screening).data, status=status.HTTP_201_CREATED)


class SupportView(ApiView):
    """Where to get help now: crisis lines, the force's own, who sees what. Open to anyone,
    signed in or not: help is never behind a log-in."""

    roles = {PUBLIC}
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: SupportOutput})
    def get(self, request: Request) -> Response:
        return Response(SupportOutput(services.support_info(answered=False)).data)


# --- The case ----------------------------------------------------------------------------------


class CaseRowOutput(OfficerOutput):
    tier = serializers.IntegerField(
        help_text="1 urgent and not acknowledged; 2 urgent, acknowledged; 3 needs OH (a "
        "concerning score, an overdue check-in, a self-referral); 4 other open alerts; "
        "5 nothing open. The list is in this order, oldest first within a tier."
    )
    waiting_since = DateTimeField(
        allow_null=True, help_text="When the oldest item of the row's tier became what it is."
    )
    reasons = serializers.ListField(
        child=StringField(),
        help_text='Why, most pressing first, each open item once: "self-harm answer 2 h ago, '
        'not acknowledged".',
    )
    urgent = serializers.IntegerField(help_text="Open urgent items.")
    open_items = serializers.IntegerField(help_text="Open items, each counted once.")
    last_screening_at = DateTimeField(allow_null=True)

    class Meta(OfficerOutput.Meta):
        fields = [
            *OfficerOutput.Meta.fields, "tier", "waiting_since", "reasons", "urgent",
            "open_items", "last_screening_at",
        ]  # fmt: skip


class CaseListView(ApiView):
    """Occupational health's case list, most in need first, with the reasons in words. The
    read is audited."""

    roles = {Role.OH}
    pagination_class = Pagination

    @extend_schema(
        responses={
            200: CaseRowOutput(many=True),
            **ERROR_RESPONSES,
            404: OpenApiResponse(description="No such page."),
        }
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        # A sliceable sequence, not a queryset: the ranking is one query of its own.
        cases: Any = cases_for(request.user)
        page = paginator.paginate_queryset(cases, request, view=self)
        services.record_read(actor=caller(request), action="case.list", officer_id=None)
        return paginator.get_paginated_response(CaseRowOutput(page, many=True).data)


class QueueItemOutput(ModelSerializer):
    """One piece of OH's work: an open alert with its officer, owner, deadline and reason."""

    officer_name = StringField(source="officer.display_name")
    urgent = serializers.SerializerMethodField()
    tier = serializers.IntegerField()
    due_at = DateTimeField(help_text="Urgent: the deadline to acknowledge. Otherwise when due.")
    late = serializers.SerializerMethodField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    reason = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id", "officer", "officer_name", "kind", "severity", "status", "urgent", "tier",
            "raised_at", "escalated_at", "ack_due_at", "ack_escalated_at", "due_at", "late",
            "owner", "reason", "acknowledged_at", "acknowledged_by",
        ]  # fmt: skip

    def get_urgent(self, alert: Alert) -> bool:
        return alert.urgent

    def get_late(self, alert: Any) -> bool:
        return bool(alert.due_at and alert.due_at < clock.now())

    def get_reason(self, alert: Alert) -> str:
        return rules.describe(queue_item(alert), clock.now())


class QueueView(ApiView):
    """Occupational health's work queue: every open alert OH must act on, urgent first (by
    the deadline to acknowledge), then by when it is due. `scope=mine` (default): the
    caller's cases, unassigned work and every urgent alert; `unassigned`; `all`. Act on an
    item with `/alerts/{id}/acknowledge` and `/resolve`, and assign its case with
    `/oh/cases/{officer_id}/assign`. The read is audited."""

    roles = {Role.OH}
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter("scope", str, enum=list(QUEUE_SCOPES), description="Default mine.")
        ],
        responses={
            200: QueueItemOutput(many=True),
            **ERROR_RESPONSES,
            404: OpenApiResponse(description="No such page."),
        },
    )
    def get(self, request: Request) -> Response:
        scope = request.query_params.get("scope", "mine")
        if scope not in QUEUE_SCOPES:
            raise DomainError(SCOPE_UNKNOWN, field="scope")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            work_queue(request.user, scope=scope), request, view=self
        )
        services.record_read(actor=caller(request), action="queue.read", officer_id=None)
        return paginator.get_paginated_response(QueueItemOutput(page, many=True).data)


class AssignInput(serializers.Serializer):
    clinician = PrimaryKeyRelatedField(
        queryset=User.objects.filter(role=Role.OH, is_active=True),
        allow_null=True,
        help_text="An active clinician, or null for nobody (unassigned work every clinician sees).",
    )


class CaseOwnerOutput(serializers.Serializer):
    officer = serializers.IntegerField(source="officer_id")
    clinician = serializers.IntegerField(source="clinician_id", allow_null=True)
    assigned_at = DateTimeField()
    assigned_by = serializers.IntegerField(source="assigned_by_id", allow_null=True)


class CaseAssignView(ApiView):
    """Give an officer's case (and so every open and future alert about them OH must act on)
    to a clinician, or to nobody. The new owner is told; the change is audited."""

    roles = {Role.OH}

    @extend_schema(
        request=AssignInput, responses={200: CaseOwnerOutput, **ERROR_RESPONSES, **NOT_FOUND}
    )
    @refusals("an id in the body that names no record the caller may use")
    def post(self, request: Request, officer_id: int) -> Response:
        officer = case_officer(request.user, officer_id)
        data = AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        owner = case_assign(
            actor=caller(request), officer=officer, clinician=data.validated_data["clinician"]
        )
        return Response(CaseOwnerOutput(owner).data)


class ClinicianOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = StringField()
    name = serializers.SerializerMethodField()
    is_oh_lead = serializers.BooleanField()

    def get_name(self, user: User) -> str:
        return user.get_full_name() or user.username


class ClinicianListView(ApiView):
    """The active clinicians (to assign work to) and which of them are OH leads."""

    roles = {Role.OH}

    @extend_schema(responses={200: ClinicianOutput(many=True), **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(ClinicianOutput(clinicians(), many=True).data)


class LeadInput(serializers.Serializer):
    lead = serializers.BooleanField()


class ClinicianLeadView(ApiView):
    """Make a clinician an OH lead, or not. `lead: true` proposes it (202, the proposal):
    another lead approves it at /oh/role-grants/{id}/approve. `lead: false` takes the flag
    away at once (a lead may, an administrator never); the last lead cannot step down.
    Audited."""

    roles = {Role.OH}

    @extend_schema(
        request=LeadInput,
        responses={
            200: ClinicianOutput,
            202: RoleGrantOutput,
            **ERROR_RESPONSES,
            **NOT_FOUND,
            409: OpenApiResponse(description="The last lead cannot step down."),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        clinician = get_or_404(clinicians(), user_id)
        data = LeadInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["lead"] and not clinician.is_oh_lead:
            grant, _ = role_grant_propose(
                actor=caller(request), user=clinician, kind=GrantKind.OH_LEAD
            )
            return Response(RoleGrantOutput(grant).data, status=status.HTTP_202_ACCEPTED)
        user = oh_lead_set(actor=caller(request), user=clinician, lead=data.validated_data["lead"])
        return Response(ClinicianOutput(user).data)


class NoteOutput(ModelSerializer):
    body = serializers.SerializerMethodField()
    superseded_by = serializers.SerializerMethodField()

    class Meta:
        model = CaseNote
        fields = ["id", "body", "author", "created_at", "supersedes", "superseded_by"]

    def get_body(self, note: CaseNote) -> str:
        return services.note_body(note)

    def get_superseded_by(self, note: CaseNote) -> int | None:
        later = getattr(note, "superseded_by", None)
        return later.pk if later is not None else None


@extend_schema_field(
    serializers.ChoiceField(choices=ReportState.choices), component_name="ReportStateEnum"
)
class ReportStateField(serializers.ChoiceField):
    """One named enum for both report shapes (another output has a `state` of its own)."""


class ReportOutput(ModelSerializer):
    """What a supervisor may read: fitness and adjustments, and when it was released."""

    state = ReportStateField(choices=ReportState.choices, read_only=True)

    class Meta:
        model = ManagementReport
        fields = [
            "id",
            "officer",
            "fitness",
            "adjustments",
            "state",
            "consented_at",
            "disclosed_at",
        ]


class ReportFullOutput(ReportOutput):
    class Meta(ReportOutput.Meta):
        fields = [
            *ReportOutput.Meta.fields, "checkin", "drafted_by", "drafted_at", "offered_at",
            "declined_at", "withdrawn_at", "disclosed_by", "legal_basis",
        ]  # fmt: skip


class CaseOutput(serializers.Serializer):
    officer = OfficerOutput()
    exposure = ExposureSummaryOutput()
    exposure_by_week = serializers.ListField(child=serializers.DictField())
    checkins = CheckinClinicalOutput(many=True)
    screenings = ScreeningClinicalOutput(many=True)
    alerts = AlertOutput(many=True)
    restrictions = RestrictionOutput(many=True)
    notes = NoteOutput(many=True)
    reports = ReportFullOutput(many=True)


class CaseDetailView(ApiView):
    """The whole picture of one officer, for occupational health. The read is audited."""

    roles = {Role.OH}

    @extend_schema(responses={200: CaseOutput, **ERROR_RESPONSES, **NOT_FOUND})
    def get(self, request: Request, officer_id: int) -> Response:
        officer = case_officer(request.user, officer_id)
        services.record_read(actor=caller(request), action="case.read", officer_id=officer.pk)
        body = {
            "officer": officer,
            "exposure": exposure_summary(officer, on=clock.today()),
            "exposure_by_week": weekly_exposure(officer),
            **case_parts(officer),
        }
        return Response(CaseOutput(body, context={"clinical": True}).data)


class NoteInput(serializers.Serializer):
    body = StringField(max_length=20000)
    supersedes = PrimaryKeyRelatedField(
        queryset=CaseNote.objects.all(), required=False, allow_null=True
    )


class CaseNotesView(ApiView):
    """Case notes (OH only): encrypted at rest; an addendum supersedes, nothing is edited."""

    roles = {Role.OH}

    @extend_schema(responses={200: NoteOutput(many=True), **ERROR_RESPONSES, **NOT_FOUND})
    def get(self, request: Request, officer_id: int) -> Response:
        officer = case_officer(request.user, officer_id)
        services.record_read(actor=caller(request), action="case.notes.read", officer_id=officer.pk)
        return Response(NoteOutput(case_parts(officer)["notes"], many=True).data)

    @extend_schema(request=NoteInput, responses={201: NoteOutput, **ERROR_RESPONSES, **NOT_FOUND})
    @refusals("a note it supersedes that does not exist, or is not this case's")
    def post(self, request: Request, officer_id: int) -> Response:
        officer = case_officer(request.user, officer_id)
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_write(actor=caller(request), officer=officer, **data.validated_data)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class ReportDraftInput(serializers.Serializer):
    fitness = serializers.ChoiceField(choices=Outcome.choices)
    adjustments = StringField(required=False, allow_blank=True, max_length=2000)
    checkin = PrimaryKeyRelatedField(
        queryset=CheckIn.objects.all(), required=False, allow_null=True
    )


class CaseReportsView(ApiView):
    """Draft a report to management (fitness and adjustments only) for the officer to see first."""

    roles = {Role.OH}

    @extend_schema(
        request=ReportDraftInput, responses={201: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND}
    )
    @refusals("a check-in that does not exist, or is not this officer's")
    def post(self, request: Request, officer_id: int) -> Response:
        officer = case_officer(request.user, officer_id)
        data = ReportDraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_draft(
            actor=caller(request), officer=officer, **data.validated_data
        )
        return Response(ReportFullOutput(report).data, status=status.HTTP_201_CREATED)


class DiscloseInput(serializers.Serializer):
    legal_basis = StringField(max_length=1000, required=False, allow_blank=True, default="")


@document_reads(
    ReportOutput,
    description="A supervisor receives these fields only. The officer and occupational health "
    "also receive `checkin`, `drafted_by`, `drafted_at`, `offered_at`, `declined_at`, "
    "`withdrawn_at`, `disclosed_by` and `legal_basis`.",
)
class ReportViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Management reports. The officer reads a report first and consents, declines, or later
    withdraws; a supervisor sees only what was released. Every step is audited."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "offer": {Role.OH},
        "consent": {Role.OFFICER},
        "decline": {Role.OFFICER},
        "withdraw": {Role.OFFICER},
        "disclose": {Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = ManagementReport
    serializer_class = ReportOutput

    def scoped_queryset(self) -> QuerySet[ManagementReport]:
        return reports_visible_to(self.request.user)

    def get_serializer_class(self) -> Any:
        role = getattr(getattr(self.request, "user", None), "role", None)
        return ReportOutput if role == Role.SUPERVISOR else ReportFullOutput

    def _audit_supervisor_reads(self, reports: Any) -> None:
        """A supervisor's or OH's read of a report about an officer is in their access log."""
        if caller(self.request).role in {Role.SUPERVISOR, Role.OH}:
            for report in reports:
                services.record_read(
                    actor=caller(self.request), action="report.read", officer_id=report.officer_id,
                    detail={"report": report.pk},
                )  # fmt: skip

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        self._audit_supervisor_reads(
            self.paginator.page if self.paginator and hasattr(self.paginator, "page") else []
        )
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = self.get_object()
        self._audit_supervisor_reads([report])
        return Response(self.get_serializer(report).data)

    def _act(self, request: Request, pk: str, act: str, legal_basis: str = "") -> Response:
        report = services.report_act(
            actor=caller(request), report=self.get_object(), action=act, legal_basis=legal_basis
        )
        return Response(ReportFullOutput(report).data)

    @extend_schema(
        request=None, responses={200: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def offer(self, request: Request, pk: str) -> Response:
        """Show the report to the officer, who decides whether management may see it."""
        return self._act(request, pk, "offer")

    @extend_schema(
        request=None, responses={200: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def consent(self, request: Request, pk: str) -> Response:
        return self._act(request, pk, "consent")

    @extend_schema(
        request=None, responses={200: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._act(request, pk, "decline")

    @extend_schema(
        request=None, responses={200: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        return self._act(request, pk, "withdraw")

    @refusals("no legal basis for a disclosure without the officer's consent")
    @extend_schema(
        request=DiscloseInput,
        responses={200: ReportFullOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def disclose(self, request: Request, pk: str) -> Response:
        """Release without consent: a separate, audited step that needs its legal basis."""
        data = DiscloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(request, pk, "disclose", data.validated_data["legal_basis"])


# --- Who opened my record ------------------------------------------------------------------------


class AccessLogOutput(serializers.Serializer):
    at = DateTimeField()
    action = StringField()
    role = StringField()
    reader = StringField(allow_null=True)


class AccessLogView(ApiView):
    """Who opened your occupational health record, or read a report about you, and when."""

    roles = {Role.OFFICER}

    @extend_schema(responses={200: AccessLogOutput(many=True), **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(AccessLogOutput(access_log_of(request.user), many=True).data)
