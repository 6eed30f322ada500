from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers

from welfare.audit.models import AuditEvent
from welfare.audit.selectors import audit_events_visible_to
from welfare.core.api import ReadOnlyApiViewSet
from welfare.core.filters import DateOrInstantFilter, rename_filter
from welfare.core.roles import Role
from welfare.core.serializers import ModelSerializer


class AuditTargetSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()


class AuditEventOutput(ModelSerializer):
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "actor_role",
            "action",
            "target",
            "ip",
            "detail",
            "prev_hash",
            "hash",
        ]

    @extend_schema_field(AuditTargetSerializer)
    def get_target(self, event: AuditEvent) -> dict[str, str]:
        return {"type": event.target_type, "id": event.target_id}


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.NumberFilter(field_name="actor_id")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    from_ = DateOrInstantFilter(field_name="at", lookup_expr="gte", label="from")
    to = DateOrInstantFilter(field_name="at", lookup_expr="lt", end_of_day=True)

    class Meta:
        model = AuditEvent
        fields: list[str] = []


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
