from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import DateTimeField, Serializer

from welfare.accounts.api import ERROR_RESPONSES, document_reads
from welfare.alerts import services
from welfare.alerts.models import (
    Alert,
    AlertKind,
    AlertOccurrence,
    AlertStatus,
    Notification,
    Severity,
    UnitWebhook,
)
from welfare.alerts.selectors import (
    alert_get_for_user,
    alerts_by_officer,
    alerts_visible_to,
    notifications_of,
    rotation_reviews_visible_to,
    team_summary,
    webhooks_visible_to,
)
from welfare.checkins.models import SHOWN_KINDS
from welfare.core.api import ApiView, ApiViewSet, ScopedListRetrieveMixin, caller
from welfare.core.db import get_or_404
from welfare.core.errors import DomainError, NotFound
from welfare.core.fields import ModelSerializer, PrimaryKeyRelatedField, StringField
from welfare.core.filters import (
    DATE_OR_INSTANT_SCHEMA,
    ON_DESCRIPTION,
    FilterSet,
    IdFilter,
    local_day_param,
)
from welfare.core.roles import ALL_ROLES, Role
from welfare.core.schema import refusals
from welfare.people.models import Posting, RotationDecision, RotationReview, Unit
from welfare.people.selectors import officers_visible_to, units_visible_to

NOT_YOURS = "These alerts do not exist or are not yours to see: {ids}."
NOT_FOUND = {404: OpenApiResponse(description="Not found, or not yours to see.")}
CONFLICT = {
    409: OpenApiResponse(
        description="Resolved already; or urgent work escalated to occupational health, "
        "which only a clinician acknowledges or resolves."
    )
}


class AlertOutput(ModelSerializer):
    headline = StringField(read_only=True, help_text="What the alert is about, in words.")

    class Meta:
        model = Alert
        fields = [
            "id", "officer", "kind", "severity", "raised_at", "status", "headline", "detail",
            "first_on", "last_on", "occurrences", "clinical",
            "checkin", "posting", "escalated_at", "ack_due_at", "ack_escalated_at",
            "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "resolution_note",
        ]  # fmt: skip


class OccurrenceOutput(ModelSerializer):
    used = serializers.FloatField(source="detail.used", read_only=True, allow_null=True)
    limit = serializers.FloatField(source="detail.limit", read_only=True, allow_null=True)
    unit = StringField(source="detail.unit", read_only=True, allow_null=True)

    class Meta:
        model = AlertOccurrence
        fields = ["on", "rule", "used", "limit", "unit", "seen_at"]


class AlertDetailOutput(AlertOutput):
    history = OccurrenceOutput(
        source="occurrence_rows", many=True, read_only=True,
        help_text="Each time the problem was seen while the alert was open (limit alerts).",
    )  # fmt: skip

    class Meta(AlertOutput.Meta):
        fields = [*AlertOutput.Meta.fields, "history"]


class OfficerAlertsOutput(Serializer):
    officer = serializers.IntegerField(source="officer_id")
    open = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    resolved = serializers.IntegerField()
    latest_raised_at = DateTimeField()
    alerts = AlertOutput(many=True, help_text="The officer's latest alerts (at most 20).")


class BulkAcknowledgeInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=200
    )


class BulkAcknowledgeOutput(serializers.Serializer):
    acknowledged = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.DictField(
        child=StringField(),
        help_text="Alerts left as they were, by id, with why (resolved already; urgent work "
        "occupational health acts on).",
    )


class ResolveInput(serializers.Serializer):
    note = StringField(max_length=1000)


class AlertFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices)
    kind = django_filters.MultipleChoiceFilter(choices=AlertKind.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    officer = IdFilter(field_name="officer_id")

    class Meta:
        model = Alert
        fields = ["status", "kind", "severity", "officer"]


@document_reads()
class AlertViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Alerts: officers see their own; supervisors their units' limit, rotation and overdue
    alerts; occupational health all, clinical ones included."""

    roles = {
        "list": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.OFFICER, Role.SUPERVISOR, Role.OH},
        "acknowledge": {Role.SUPERVISOR, Role.OH},
        "acknowledge_many": {Role.SUPERVISOR, Role.OH},
        "by_officer": {Role.SUPERVISOR, Role.OH},
        "resolve": {Role.SUPERVISOR, Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = Alert
    serializer_class = AlertOutput
    filterset_class = AlertFilter
    ordering_fields = ["raised_at", "severity", "id"]
    ordering = ["-raised_at", "-id"]

    def scoped_queryset(self) -> QuerySet[Alert]:
        alerts = alerts_visible_to(self.request.user)
        if self.action == "retrieve":
            alerts = alerts.prefetch_related("occurrence_rows")
        return alerts

    def get_serializer_class(self) -> Any:
        return AlertDetailOutput if self.action == "retrieve" else AlertOutput

    @extend_schema(
        responses={
            200: OfficerAlertsOutput(many=True),
            **ERROR_RESPONSES,
            404: OpenApiResponse(description="No such page."),
        },
        description="Alerts grouped by officer, with counts by status: those with the most "
        "open first, paginated by officer. Takes the list's filters (status, kind, severity, "
        "officer).",
    )
    @action(detail=False, methods=["get"], url_path="by-officer")
    def by_officer(self, request: Request) -> Response:
        groups = alerts_by_officer(self.filter_queryset(self.scoped_queryset()))
        page: list[Any] | None = self.paginate_queryset(groups)  # type: ignore[arg-type]
        assert page is not None
        return self.get_paginated_response(OfficerAlertsOutput(page, many=True).data)

    @refusals("ids that name no alert the caller may see")
    @extend_schema(
        operation_id="alerts_acknowledge_many",
        request=BulkAcknowledgeInput,
        responses={200: BulkAcknowledgeOutput, **ERROR_RESPONSES},
        description="Acknowledge several alerts at once, in one transaction, each audited. "
        "Every id must be an alert you can see (else 400, nothing changed); those resolved "
        "already, or urgent work only occupational health acknowledges, are skipped.",
    )
    @action(detail=False, methods=["post"], url_path="acknowledge")
    def acknowledge_many(self, request: Request) -> Response:
        data = BulkAcknowledgeInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = sorted(set(data.validated_data["ids"]))
        alerts = list(alerts_visible_to(request.user).filter(pk__in=ids))
        missing = sorted(set(ids) - {a.pk for a in alerts})
        if missing:
            raise DomainError(NOT_YOURS.format(ids=", ".join(map(str, missing))), field="ids")
        result = services.alerts_acknowledge(actor=caller(request), alerts=alerts)
        return Response(
            BulkAcknowledgeOutput(
                {
                    "acknowledged": result.acknowledged,
                    "skipped": {str(k): v for k, v in result.skipped.items()},
                }
            ).data
        )

    @extend_schema(
        request=None, responses={200: AlertOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        alert = services.alert_acknowledge(
            actor=caller(request), alert=alert_get_for_user(request.user, pk)
        )
        return Response(AlertOutput(alert).data)

    @extend_schema(
        request=ResolveInput,
        responses={200: AlertOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        alert = alert_get_for_user(request.user, pk)
        data = ResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.alert_resolve(
            actor=caller(request), alert=alert, note=data.validated_data["note"]
        )
        return Response(AlertOutput(alert).data)


# --- Notifications --------------------------------------------------------------------------


class NotificationOutput(ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "subject", "body", "link", "alert", "checkin", "created_at", "read_at"]


class ReadAllOutput(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread.")


class NotificationFilter(FilterSet):
    read_at__isnull = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = Notification
        fields = ["read_at__isnull"]


@document_reads()
class NotificationViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Your in-app notifications."""

    roles = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "read": ALL_ROLES, "read_all": ALL_ROLES}
    http_method_names = ["get", "post", "head", "options"]
    model = Notification
    serializer_class = NotificationOutput
    filterset_class = NotificationFilter

    def scoped_queryset(self) -> QuerySet[Notification]:
        return notifications_of(self.request.user)

    @extend_schema(
        request=None,
        responses={
            200: NotificationOutput,
            401: ERROR_RESPONSES[401],
            403: ERROR_RESPONSES[403],
            **NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = self.get_object()
        services.notifications_mark_read(user=caller(request), ids=[notification.pk])
        notification.refresh_from_db()
        return Response(NotificationOutput(notification).data)

    @extend_schema(
        request=None,
        responses={200: ReadAllOutput, 401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        """Mark every unread notification of yours read."""
        marked = services.notifications_mark_read(user=caller(request), ids=None)
        return Response(ReadAllOutput({"marked": marked}).data)


# --- Rotation reviews -------------------------------------------------------------------------


class RotationReviewOutput(ModelSerializer):
    officer = serializers.IntegerField(source="posting.officer_id", read_only=True)

    class Meta:
        model = RotationReview
        fields = [
            "id",
            "posting",
            "officer",
            "decision",
            "next_review_on",
            "rotate_by",
            "note",
            "decided_by",
            "decided_at",
        ]


class RotationReviewInput(serializers.Serializer):
    posting = PrimaryKeyRelatedField(queryset=Posting.objects.select_related("unit"))
    decision = serializers.ChoiceField(choices=RotationDecision.choices)
    next_review_on = serializers.DateField(required=False, allow_null=True)
    rotate_by = serializers.DateField(required=False, allow_null=True)
    note = StringField(required=False, allow_blank=True, max_length=500)


@document_reads()
class RotationReviewViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Rotation review decisions: stay (with the next review date) or rotate by a date. A
    decision applies to the officer's whole spell in the work (a posting a restructure
    ended stands for the one that continues it) and answers its open rotation alerts,
    except one escalated to OH, which OH resolves. No one is moved automatically."""

    roles = {
        "list": {Role.SUPERVISOR, Role.OH},
        "retrieve": {Role.SUPERVISOR, Role.OH},
        "create": {Role.SUPERVISOR, Role.OH},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = RotationReview
    serializer_class = RotationReviewOutput

    def scoped_queryset(self) -> QuerySet[RotationReview]:
        return rotation_reviews_visible_to(self.request.user)

    @extend_schema(
        request=RotationReviewInput,
        responses={201: RotationReviewOutput, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @refusals(
        "an id in the body that names no record the caller may use",
        "a next review date that has passed",
    )
    def create(self, request: Request) -> Response:
        data = RotationReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        posting: Posting = values.pop("posting")
        visible = officers_visible_to(request.user).filter(pk=posting.officer_id).exists()
        if not visible:
            raise NotFound()
        review = services.rotation_decision_record(actor=caller(request), posting=posting, **values)
        return Response(RotationReviewOutput(review).data, status=status.HTTP_201_CREATED)


# --- Webhooks --------------------------------------------------------------------------------


class WebhookOutput(ModelSerializer):
    class Meta:
        model = UnitWebhook
        fields = ["id", "unit", "url", "active", "created_at"]


class WebhookCreatedOutput(WebhookOutput):
    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class WebhookInput(serializers.Serializer):
    unit = PrimaryKeyRelatedField(queryset=Unit.objects.all())
    url = serializers.URLField(max_length=500)


class WebhookUpdateInput(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    active = serializers.BooleanField(required=False)


@document_reads()
class WebhookViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """A unit's outgoing webhook for its team chat (admin). The signing secret is shown once,
    when the webhook is created. Messages carry no health data and no names."""

    roles = {action: {Role.ADMIN} for action in ("list", "retrieve", "create", "partial_update")}
    http_method_names = ["get", "post", "patch", "head", "options"]
    model = UnitWebhook
    serializer_class = WebhookOutput

    def scoped_queryset(self) -> QuerySet[UnitWebhook]:
        return webhooks_visible_to(self.request.user)

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedOutput, **ERROR_RESPONSES})
    @refusals(
        "an id in the body that names no record the caller may use",
        "an address that is not https, or not on an allowed host",
    )
    def create(self, request: Request) -> Response:
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_create(actor=caller(request), **data.validated_data)
        return Response(WebhookCreatedOutput(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookUpdateInput, responses={200: WebhookOutput, **ERROR_RESPONSES, **NOT_FOUND}
    )
    @refusals("an address that is not https, or not on an allowed host")
    def partial_update(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        data = WebhookUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_update(
            actor=caller(request), webhook=webhook, changes=dict(data.validated_data)
        )
        return Response(WebhookOutput(webhook).data)


# --- A unit's team at a glance ------------------------------------------------------------


class TeamCheckinOutput(Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=SHOWN_KINDS)
    due_on = serializers.DateField()
    status = StringField()
    booked_for = DateTimeField(allow_null=True)


class TeamMemberOutput(Serializer):
    officer = serializers.IntegerField()
    display_name = StringField()
    staff_number = StringField()
    posted_since = serializers.DateField()
    day_minutes = serializers.FloatField()
    week_minutes = serializers.FloatField()
    rolling_28d_minutes = serializers.FloatField()
    week_index = serializers.FloatField()
    warnings = serializers.ListField(child=StringField())
    breaches = serializers.ListField(child=StringField())
    next_checkin = TeamCheckinOutput(allow_null=True)
    open_alerts = serializers.IntegerField()


class TeamSummaryOutput(Serializer):
    unit = serializers.IntegerField(source="unit.pk")
    unit_name = StringField(source="unit.name")
    on = serializers.DateField()
    officers = TeamMemberOutput(many=True, source="members")


class UnitSummaryView(ApiView):
    """A unit's officers on a day: exposure against limits, the next check-in (date and
    status), open alerts. Supervisors of the unit and occupational health."""

    roles = {Role.SUPERVISOR, Role.OH}

    @extend_schema(
        parameters=[OpenApiParameter("on", DATE_OR_INSTANT_SCHEMA, description=ON_DESCRIPTION)],
        responses={200: TeamSummaryOutput, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def get(self, request: Request, unit_id: int) -> Response:
        # The unit's supervisors are not part of the summary: no prefetch.
        unit = get_or_404(units_visible_to(request.user).prefetch_related(None), unit_id)
        summary = team_summary(request.user, unit, on=local_day_param(request.query_params))
        return Response(TeamSummaryOutput(summary).data)
