from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from welfare.accounts.api import ERROR_RESPONSES, document_reads
from welfare.core.api import ApiViewSet, ScopedListRetrieveMixin, caller
from welfare.core.fields import ModelSerializer, PrimaryKeyRelatedField, StringField
from welfare.core.filters import FilterSet, IdFilter
from welfare.core.roles import Role
from welfare.core.schema import refusals
from welfare.people.models import Officer
from welfare.records import services
from welfare.records.models import LegalHold
from welfare.records.selectors import legal_holds_visible_to

NOT_FOUND = {404: OpenApiResponse(description="Not found.")}
CONFLICT = {409: OpenApiResponse(description="Lifted already.")}


class LegalHoldOutput(ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = LegalHold
        fields = [
            "id", "officer", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at", "active",
        ]  # fmt: skip

    def get_active(self, hold: LegalHold) -> bool:
        return hold.lifted_at is None


class LegalHoldInput(serializers.Serializer):
    officer = PrimaryKeyRelatedField(queryset=Officer.objects.all())
    reason = StringField(
        max_length=280, help_text="A claim or case reference; never health information."
    )


class LegalHoldFilter(FilterSet):
    officer = IdFilter(field_name="officer_id")
    active = django_filters.BooleanFilter(field_name="lifted_at", lookup_expr="isnull")

    class Meta:
        model = LegalHold
        fields = ["officer", "active"]


@document_reads()
class LegalHoldViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Legal holds (admin): while one is active the retention job removes nothing about the
    officer and does not cut the audit trail. Placed and lifted, never deleted."""

    roles = {action: {Role.ADMIN} for action in ("list", "retrieve", "create", "lift")}
    http_method_names = ["get", "post", "head", "options"]
    model = LegalHold
    serializer_class = LegalHoldOutput
    filterset_class = LegalHoldFilter
    ordering = ["-placed_at", "-id"]

    def scoped_queryset(self) -> QuerySet[LegalHold]:
        return legal_holds_visible_to(self.request.user)

    @extend_schema(request=LegalHoldInput, responses={201: LegalHoldOutput, **ERROR_RESPONSES})
    @refusals("an id in the body that names no record the caller may use")
    def create(self, request: Request) -> Response:
        data = LegalHoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.legal_hold_place(actor=caller(request), **data.validated_data)
        return Response(LegalHoldOutput(hold).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None, responses={200: LegalHoldOutput, **ERROR_RESPONSES, **NOT_FOUND, **CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, pk: str) -> Response:
        hold = services.legal_hold_lift(actor=caller(request), hold=self.get_object())
        return Response(LegalHoldOutput(hold).data)
