from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import django_filters
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from welfare.accounts.api import ERROR_RESPONSES, document_reads
from welfare.audit.services import audit_reads
from welfare.checkins import services
from welfare.checkins.ical import calendar
from welfare.checkins.models import (
    SHOWN_KINDS,
    WELFARE_APPOINTMENT,
    CalendarFeed,
    CheckIn,
    Incident,
    IncidentCategory,
    Kind,
    Outcome,
    Status,
)
from welfare.checkins.selectors import (
    checkin_get_for_user,
    checkins_visible_to,
    incident_get_for_user,
    incidents_visible_to,
    own_checkins,
)
from welfare.core import clock
from welfare.core.api import ApiView, ApiViewSet, ScopedListRetrieveMixin, caller
from welfare.core.errors import DomainError, Forbidden, NotFound
from welfare.core.fields import AwareDateTimeField, ModelSerializer, StringField
from welfare.core.filters import DateOrInstantFilter, FilterSet, IdFilter, rename_filter
from welfare.core.permissions import PUBLIC
from welfare.core.roles import ALL_ROLES, Role
from welfare.core.schema import refusals
from welfare.exposure.models import Material
from welfare.people.models import Officer
from welfare.people.selectors import officer_get_for_user, officer_of_user

NOT_FOUND = {404: OpenApiResponse(description="Not found, or not yours to see.")}
CONFLICT = {409: OpenApiResponse(description="Not open any more.")}
ONLY_SELF_REFERRAL = "Officers may only ask for a self-referral; other check-ins are scheduled."


class CheckinOutput(ModelSerializer):
    """Dates, status and the fitness outcome: what supervisors may see. A check-in that is
    occupational health's alone, released to the supervisor, is a `welfare_appointment`:
    its date, booking and status, never its kind or outcome."""

    kind = serializers.ChoiceField(choices=SHOWN_KINDS)

    class Meta:
        model = CheckIn
        fields = [
            "id", "officer", "kind", "follow_up", "due_on", "status", "booked_for", "outcome",
            "completed_at", "cancelled_at",
        ]  # fmt: skip


class CheckinSupervisorOutput(CheckinOutput):
    def to_representation(self, instance: CheckIn) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        if instance.confidential:
            data.update(kind=WELFARE_APPOINTMENT, follow_up=False, outcome="")
        return data


class CheckinClinicalOutput(CheckinOutput):
    """For occupational health: the self-referral's message and why it was cancelled."""

    class Meta(CheckinOutput.Meta):
        fields = [
            *CheckinOutput.Meta.fields, "adjustments", "referral_note", "cancel_reason",
            "created_at", "confidential", "released_at",
        ]  # fmt: skip


# What makes a check-in's detail a read of the officer's clinical record.
CLINICAL_TEXT = ("referral_note", "adjustments", "cancel_reason")


class SelfReferralInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[Kind.SELF_REFERRAL])
    note = StringField(required=False, allow_blank=True, max_length=1000)


class BookInput(serializers.Serializer):
    booked_for = AwareDateTimeField()


class RestrictionSpec(serializers.Serializer):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True)
    daily_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1440
    )
    week_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10080
    )
    forbidden_media = serializers.ListField(
        child=serializers.ChoiceField(choices=Material.choices), required=False, max_length=6
    )
    reason = StringField(required=False, allow_blank=True, max_length=500)


class CompleteInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    adjustments = StringField(required=False, allow_blank=True, max_length=1000)
    restrictions = RestrictionSpec(many=True, required=False)


class CancelInput(serializers.Serializer):
    reason = StringField(max_length=280)


class CheckinFilter(FilterSet):
    officer = IdFilter(field_name="officer_id")
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=SHOWN_KINDS, method="filter_kind")
    from_ = DateOrInstantFilter(field_name="due_on", lookup_expr="gte", label="from")
    to = DateOrInstantFilter(field_name="due_on", lookup_expr="lte")

    class Meta:
        model = CheckIn
        fields: list[str] = []

    def filter_kind(self, checkins: QuerySet[CheckIn], name: str, kinds: list[str]) -> Any:
        """By kind as the caller sees it: for a supervisor, a check-in that is OH's alone is a
        welfare appointment, and never matches its real kind (officers see their own kinds)."""
        if not kinds:
            return checkins
        if getattr(getattr(self.request, "user", None), "role", None) != Role.SUPERVISOR:
            return checkins.filter(kind__in=kinds)
        shown = Q(kind__in=kinds, confidential=False)
        if WELFARE_APPOINTMENT in kinds:
            shown |= Q(confidential=True)
        return checkins.filter(shown)


rename_filter(CheckinFilter, "from_", "from")


@document_reads(
    description="Occupational health also receives `adjustments`, `referral_note`, "
    "`cancel_reason` and `created_at`."
)
class CheckinViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Check-ins. Officers see theirs and may self-refer (occupational health only ever);
    supervisors see their units' dates, status and outcome; OH books, completes and cancels."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "create": {Role.OFFICER},
        "book": {Role.OH},
        "complete": {Role.OH},
        "cancel": {Role.OH},
        "release": {Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = CheckIn
    serializer_class = CheckinOutput
    filterset_class = CheckinFilter
    ordering_fields = ["due_on", "id", "status"]
    ordering = ["due_on", "id"]

    def scoped_queryset(self) -> QuerySet[CheckIn]:
        return checkins_visible_to(self.request.user)

    def get_serializer_class(self) -> Any:
        role = getattr(getattr(self.request, "user", None), "role", None)
        if role == Role.OH:
            return CheckinClinicalOutput
        return CheckinSupervisorOutput if role == Role.SUPERVISOR else CheckinOutput

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        data = response.data
        rows = data.get("results", []) if isinstance(data, dict) else data
        self._audit_clinical_reads(rows if isinstance(rows, Sequence) else [])
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        self._audit_clinical_reads([response.data])
        return response

    def _audit_clinical_reads(self, rows: Sequence[Any]) -> None:
        """OH reading a check-in's clinical text (the officer's message, adjustments, why it
        was cancelled) is a read of their record: audited, listed in their access log."""
        if caller(self.request).role != Role.OH:
            return
        audit_reads(
            actor=caller(self.request),
            action="checkin.read",
            reads=[
                (row["officer"], row["id"])
                for row in rows
                if any(row.get(field) for field in CLINICAL_TEXT)
            ],
            key="checkins",
        )

    def _render(self, checkin: CheckIn, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer_class()(checkin).data, status=code)

    @extend_schema(
        request=SelfReferralInput, responses={201: CheckinOutput, **ERROR_RESPONSES, **CONFLICT}
    )
    def create(self, request: Request) -> Response:
        data = SelfReferralInput(data=request.data)
        if not data.is_valid():
            if "kind" in data.errors:
                raise DomainError(ONLY_SELF_REFERRAL, field="kind")
            data.is_valid(raise_exception=True)
        checkin = services.self_refer(
            user=caller(request), note=data.validated_data.get("note", "")
        )
        return self._render(checkin, status.HTTP_201_CREATED)

    @refusals("a time that has passed")
    @extend_schema(
        request=BookInput,
        responses={200: CheckinClinicalOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def book(self, request: Request, pk: str) -> Response:
        checkin = checkin_get_for_user(request.user, pk)
        data = BookInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._render(
            services.checkin_book(actor=caller(request), checkin=checkin, **data.validated_data)
        )

    @refusals("a restriction that limits nothing", "an outcome the check-in cannot take")
    @extend_schema(
        request=CompleteInput,
        responses={200: CheckinClinicalOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        checkin = checkin_get_for_user(request.user, pk)
        data = CompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._render(
            services.checkin_complete(actor=caller(request), checkin=checkin, **data.validated_data)
        )

    @extend_schema(
        request=CancelInput,
        responses={200: CheckinClinicalOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        checkin = checkin_get_for_user(request.user, pk)
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._render(
            services.checkin_cancel(actor=caller(request), checkin=checkin, **data.validated_data)
        )

    @extend_schema(
        request=None,
        description="Release a check-in that is occupational health's alone (one a screening "
        "triggered) to the officer's supervisors as a welfare appointment: its date, booking "
        "and status, never its kind or outcome. Self-referrals are never released. Audited; "
        "releasing again changes nothing.",
        responses={200: CheckinClinicalOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        checkin = checkin_get_for_user(request.user, pk)
        return self._render(services.checkin_release(actor=caller(request), checkin=checkin))


# --- Calendar ------------------------------------------------------------------------------------


def _site_host() -> str:
    """The configured site's host: events' UIDs stay the same whatever host name the feed
    was read through (a calendar reading it through two would show every event twice)."""
    return urlsplit(settings.SITE_URL).hostname or "welfare"


def _feed_response(request: Request, user: Any) -> HttpResponse:
    body = calendar(own_checkins(user), now=clock.now(), host=_site_host())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="checkins.ics"'
    response["Cache-Control"] = "no-store"
    return response


class MyCalendarView(ApiView):
    """Your own check-ins as an iCalendar (RFC 5545) feed."""

    roles = ALL_ROLES

    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR, 401: ERROR_RESPONSES[401]})
    def get(self, request: Request) -> HttpResponse:
        return _feed_response(request, request.user)


class CalendarKeyOutput(serializers.Serializer):
    url = StringField()


class CalendarKeyView(ApiView):
    """A secret feed address for calendar apps; asking again replaces the old one."""

    roles = ALL_ROLES

    @extend_schema(request=None, responses={201: CalendarKeyOutput, 401: ERROR_RESPONSES[401]})
    def post(self, request: Request) -> Response:
        key = services.calendar_key_issue(user=caller(request))
        url = settings.SITE_URL.rstrip("/") + f"/api/v1/calendar/{key}.ics"  # not the Host
        return Response({"url": url}, status=status.HTTP_201_CREATED)


class CalendarFeedView(ApiView):
    """A calendar feed by its secret key (no other authentication)."""

    roles = {PUBLIC}
    authentication_classes: list[Any] = []

    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR, **NOT_FOUND}, auth=[])
    def get(self, request: Request, key: str) -> HttpResponse:
        feed = (
            CalendarFeed.objects.select_related("user")
            .filter(key_hash=hashlib.sha256(key.encode()).hexdigest(), user__is_active=True)
            .first()
        )
        if feed is None:
            raise NotFound()
        return _feed_response(request, feed.user)


# --- Incidents -----------------------------------------------------------------------------

OFFICER_REQUIRED = "Say which officer it is about."
NO_OFFICER_RECORD = "Your account has no officer record."


class IncidentFollowUpOutput(ModelSerializer):
    class Meta:
        model = CheckIn
        fields = ["id", "due_on", "status"]


class IncidentOutput(ModelSerializer):
    """That a distressing piece of work was recorded, and its follow-ups: what supervisors
    may see (never the category)."""

    follow_ups = IncidentFollowUpOutput(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "officer", "occurred_on", "follow_ups", "created_at", "withdrawn_at"]


class IncidentDetailOutput(IncidentOutput):
    """For the officer concerned and occupational health: the category, who recorded it and
    why it was withdrawn."""

    class Meta(IncidentOutput.Meta):
        fields = [
            *IncidentOutput.Meta.fields, "category", "reported_by", "client_ref",
            "withdraw_reason",
        ]  # fmt: skip


class IncidentInput(serializers.Serializer):
    officer = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The officer's id. An officer recording for themself may leave it out.",
    )
    occurred_on = serializers.DateField()
    category = serializers.ChoiceField(choices=IncidentCategory.choices)
    client_ref = serializers.UUIDField(
        help_text="Made once per incident by the client: sent again, the stored one is "
        "returned (200) and nothing is created."
    )


class WithdrawInput(serializers.Serializer):
    reason = StringField(max_length=280)


class IncidentFilter(FilterSet):
    # No filter on the category: a supervisor could learn it by filtering.
    officer = IdFilter(field_name="officer_id")
    from_ = DateOrInstantFilter(field_name="occurred_on", lookup_expr="gte", label="from")
    to = DateOrInstantFilter(field_name="occurred_on", lookup_expr="lte")

    class Meta:
        model = Incident
        fields: list[str] = []


rename_filter(IncidentFilter, "from_", "from")


def shows_incident_category(user: Any) -> bool:
    return getattr(user, "role", None) in (Role.OFFICER, Role.OH)


@document_reads(
    description="The officer concerned and occupational health also receive `category`, "
    "`reported_by`, `client_ref` and `withdraw_reason`; supervisors never do."
)
class IncidentViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Distressing pieces of work (TRiM-style): a date and a category from a fixed list,
    nothing more. Each schedules follow-up contacts, tracked as check-ins of kind
    `incident_follow_up`. Officers record their own; supervisors their units' officers'
    (and see them without the category); OH anyone's."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "create": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "withdraw": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = Incident
    serializer_class = IncidentOutput
    filterset_class = IncidentFilter
    ordering_fields = ["occurred_on", "created_at", "id"]
    ordering = ["-occurred_on", "-id"]

    def scoped_queryset(self) -> QuerySet[Incident]:
        return incidents_visible_to(self.request.user)

    def get_serializer_class(self) -> Any:
        user = getattr(self.request, "user", None)
        return IncidentDetailOutput if shows_incident_category(user) else IncidentOutput

    def _render(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        shown = incident_get_for_user(self.request.user, incident.pk)
        return Response(self.get_serializer_class()(shown).data, status=code)

    @extend_schema(
        request=IncidentInput,
        responses={201: IncidentOutput, 200: IncidentOutput, **ERROR_RESPONSES, **NOT_FOUND},
        description="201 with the new incident and its follow-ups; 200 with the stored one "
        "when its client_ref was sent before. 404 for an officer the caller may not record for.",
    )
    @refusals("a date more than 90 days ago, or to come")
    def create(self, request: Request) -> Response:
        data = IncidentInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        officer_id = values.pop("officer", None)
        user = caller(request)
        officer: Officer | None
        if officer_id is not None:
            officer = officer_get_for_user(user, officer_id)
        elif user.role == Role.OFFICER:
            officer = officer_of_user(user)
            if officer is None:
                raise Forbidden(NO_OFFICER_RECORD, code="no_officer_record")
        else:
            raise DomainError(OFFICER_REQUIRED, field="officer")
        result = services.incident_record(actor=user, officer=officer, **values)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return self._render(result.incident, code)

    @extend_schema(
        request=WithdrawInput,
        responses={200: IncidentOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
        description="Recorded in error: the incident stays on record, withdrawn with the "
        "reason, and its open follow-ups are cancelled. Whoever recorded it, or OH.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        incident = incident_get_for_user(request.user, pk)
        data = WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawn = services.incident_withdraw(
            actor=caller(request), incident=incident, reason=data.validated_data["reason"]
        )
        return self._render(withdrawn)
