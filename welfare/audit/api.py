from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.serializers import DateTimeField

from welfare.audit.models import AuditEvent
from welfare.audit.rules import admin_view, event_class
from welfare.audit.selectors import audit_events_visible_to, clinical_events
from welfare.core.api import ReadOnlyApiViewSet
from welfare.core.fields import StringField
from welfare.core.filters import DateOrInstantFilter, FilterSet, IdFilter, rename_filter
from welfare.core.roles import Role


class AuditTargetSerializer(serializers.Serializer):
    type = StringField()
    id = StringField()


class AuditEventOutput(serializers.Serializer):
    """An event in full for OH (their own) and for an admin when it is not clinical; a
    clinical event shows an admin only its id, time, actor role and class."""

    id = serializers.IntegerField()
    at = DateTimeField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_role = StringField()
    action = StringField(allow_null=True)
    target = serializers.SerializerMethodField()
    ip = StringField(allow_null=True)
    detail = serializers.JSONField(allow_null=True)
    prev_hash = StringField(
        allow_null=True, help_text="Withheld from admins: it is the hash of the event before."
    )
    hash = StringField(allow_null=True)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # `class` is a keyword, so the field is added here rather than declared.
        fields["class"] = StringField(
            source="action", help_text="`clinical` for an event about a clinical record; "
            "otherwise the action's first word."
        )  # fmt: skip
        return fields

    @extend_schema_field(AuditTargetSerializer(allow_null=True))
    def get_target(self, event: AuditEvent) -> dict[str, str]:
        return {"type": event.target_type, "id": event.target_id}

    def to_representation(self, instance: AuditEvent) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        data["class"] = event_class(instance.action)
        request = self.context.get("request")
        if getattr(getattr(request, "user", None), "role", None) == Role.ADMIN:
            return admin_view(data)
        return data


class AuditEventFilter(FilterSet):
    actor = IdFilter(field_name="actor_id")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    from_ = DateOrInstantFilter(field_name="at", lookup_expr="gte", label="from")
    to = DateOrInstantFilter(field_name="at", lookup_expr="lt", end_of_day=True)

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    # Filters that pick events by who, what or whom: matching a clinical event by any of them
    # would tell an admin its kind, actor or officer, so for an admin they never match one.
    REVEALING = ("actor", "action", "action_prefix", "target_type", "target_id")

    def filter_queryset(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        filtered = super().filter_queryset(queryset)
        role = getattr(getattr(self.request, "user", None), "role", None)
        if role == Role.ADMIN and any(self.data.get(name) for name in self.REVEALING):
            return filtered.exclude(pk__in=clinical_events().values("pk"))
        return filtered


rename_filter(AuditEventFilter, "from_", "from")


# The audit app sits below accounts, whose shared error responses it cannot import.
_DENIED = {
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Role not allowed, or two-factor required."),
}


@extend_schema_view(
    list=extend_schema(
        responses={
            200: AuditEventOutput,
            400: OpenApiResponse(description="A filter value that does not parse."),
            **_DENIED,
            404: OpenApiResponse(description="No such page."),
        }
    ),
    retrieve=extend_schema(
        responses={
            200: AuditEventOutput,
            **_DENIED,
            404: OpenApiResponse(description="Not found, or not yours to see."),
        }
    ),
)
class AuditEventViewSet(ReadOnlyApiViewSet):
    """The append-only, hash-chained audit trail: admin sees all, OH the events they caused."""

    roles = {"list": {Role.ADMIN, Role.OH}, "retrieve": {Role.ADMIN, Role.OH}}
    model = AuditEvent
    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter
    ordering_fields = ["id", "at"]
    ordering = ["-id"]

    def scoped_queryset(self) -> QuerySet[AuditEvent]:
        return audit_events_visible_to(self.request.user)
