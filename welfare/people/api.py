from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from welfare.accounts import services as accounts
from welfare.accounts.api import ERROR_RESPONSES, document_reads
from welfare.accounts.models import NotifyBy, User
from welfare.accounts.selectors import user_has_confirmed_device
from welfare.core.api import (
    ApiView,
    ApiViewSet,
    ScopedListRetrieveMixin,
    caller,
)
from welfare.core.errors import DomainError
from welfare.core.fields import ModelSerializer, PrimaryKeyRelatedField, StringField
from welfare.core.filters import FilterSet, IdFilter
from welfare.core.parsers import RequestTooLarge, body_limit, read_limited
from welfare.core.permissions import is_second_factor_verified
from welfare.core.roles import ALL_ROLES, DIGEST_ROLES, Role
from welfare.core.schema import refusals
from welfare.people import services
from welfare.people.models import Officer, Posting, Unit, UnitKind
from welfare.people.selectors import (
    officer_get_for_user,
    officer_of_user,
    officers_visible_to,
    postings_of,
    units_visible_to,
)

NOT_FOUND_RESPONSE = {404: OpenApiResponse(description="Not found, or not yours to see.")}
PEOPLE_READERS = {Role.OFFICER, Role.SUPERVISOR, Role.OH, Role.ADMIN}


# --- Units ---------------------------------------------------------------------------------


SUPERVISORS_REFUSED = (
    "an id in the body that names no record the caller may use (supervisors: users of the role "
    "`supervisor`)"
)


class UnitOutput(ModelSerializer):
    supervisors = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "name", "kind", "supervisors", "directory_group"]

    def get_supervisors(self, unit: Unit) -> list[int]:
        return sorted(user.pk for user in unit.supervisors.all())


class UnitInput(serializers.Serializer):
    name = StringField(max_length=120)
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    supervisors = PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)
    directory_group = StringField(max_length=255, required=False, allow_null=True, allow_blank=True)


@document_reads()
class UnitViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Units (admin writes). Officers see their own unit, supervisors theirs, OH all."""

    roles = {
        "list": PEOPLE_READERS,
        "retrieve": PEOPLE_READERS,
        "create": {Role.ADMIN},
        "partial_update": {Role.ADMIN},
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    model = Unit
    serializer_class = UnitOutput
    filterset_fields = ["kind"]
    ordering_fields = ["name", "id"]
    ordering = ["name"]

    def scoped_queryset(self) -> QuerySet[Unit]:
        return units_visible_to(self.request.user)

    @extend_schema(request=UnitInput, responses={201: UnitOutput, **ERROR_RESPONSES})
    @refusals(SUPERVISORS_REFUSED)
    def create(self, request: Request) -> Response:
        data = UnitInput(data=request.data)
        data.is_valid(raise_exception=True)
        unit = services.unit_create(actor=caller(request), **data.validated_data)
        return Response(UnitOutput(unit).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=UnitInput(partial=True),
        responses={200: UnitOutput, **ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    )
    @refusals(SUPERVISORS_REFUSED)
    def partial_update(self, request: Request, pk: str) -> Response:
        unit = self.get_object()
        data = UnitInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        unit = services.unit_update(
            actor=caller(request), unit=unit, changes=dict(data.validated_data)
        )
        return Response(UnitOutput(units_visible_to(caller(request)).get(pk=unit.pk)).data)


# --- Officers -------------------------------------------------------------------------------


class OfficerOutput(ModelSerializer):
    unit = serializers.IntegerField(source="current_unit_id", allow_null=True, read_only=True)
    posted_since = serializers.DateField(allow_null=True, read_only=True)

    class Meta:
        model = Officer
        fields = ["id", "user", "staff_number", "display_name", "unit", "posted_since"]


STAFF_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9\-/]{0,31}$"
STAFF_NUMBER_INVALID = "Use letters, digits, '-' or '/', up to 32 characters."


class OfficerCreateInput(serializers.Serializer):
    user = PrimaryKeyRelatedField(queryset=User.objects.all())
    staff_number = serializers.RegexField(
        STAFF_NUMBER_PATTERN, error_messages={"invalid": STAFF_NUMBER_INVALID}
    )
    display_name = StringField(max_length=120)
    unit = PrimaryKeyRelatedField(queryset=Unit.objects.all(), required=False, allow_null=True)
    posted_since = serializers.DateField(required=False, allow_null=True)


class OfficerUpdateInput(serializers.Serializer):
    staff_number = serializers.RegexField(
        STAFF_NUMBER_PATTERN, required=False, error_messages={"invalid": STAFF_NUMBER_INVALID}
    )
    display_name = StringField(max_length=120, required=False)


class OfficerFilter(FilterSet):
    unit = IdFilter(field_name="current_unit_id")
    staff_number = django_filters.CharFilter(lookup_expr="iexact")
    display_name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Officer
        fields = ["unit", "staff_number", "display_name"]


@document_reads()
class OfficerViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Officer records (admin writes). Unit and posting history move through postings."""

    roles = {
        "list": PEOPLE_READERS,
        "retrieve": PEOPLE_READERS,
        "create": {Role.ADMIN},
        "partial_update": {Role.ADMIN},
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    model = Officer
    serializer_class = OfficerOutput
    filterset_class = OfficerFilter
    ordering_fields = ["display_name", "staff_number", "id", "posted_since"]
    ordering = ["display_name", "id"]

    def scoped_queryset(self) -> QuerySet[Officer]:
        return officers_visible_to(self.request.user)

    @extend_schema(request=OfficerCreateInput, responses={201: OfficerOutput, **ERROR_RESPONSES})
    @refusals(
        "an id in the body that names no record the caller may use",
        "a user who is not an officer, or already has an officer record",
    )
    def create(self, request: Request) -> Response:
        data = OfficerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        officer = services.officer_create(actor=caller(request), **data.validated_data)
        return Response(
            OfficerOutput(officer_get_for_user(caller(request), officer.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=OfficerUpdateInput,
        responses={200: OfficerOutput, **ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        officer = officer_get_for_user(caller(request), pk)
        data = OfficerUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.officer_update(
            actor=caller(request), officer=officer, changes=dict(data.validated_data)
        )
        return Response(OfficerOutput(officer_get_for_user(caller(request), pk)).data)


# --- Postings -------------------------------------------------------------------------------


class PostingOutput(ModelSerializer):
    class Meta:
        model = Posting
        fields = ["id", "unit", "started_on", "ended_on"]


class PostingCreateInput(serializers.Serializer):
    unit = PrimaryKeyRelatedField(queryset=Unit.objects.all())
    started_on = serializers.DateField()


class PostingEndInput(serializers.Serializer):
    ended_on = serializers.DateField()


@document_reads(list_not_found="No such officer, or not yours to see.")
class PostingViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """An officer's posting history. Admin posts them (ending the open posting the day before)."""

    roles = {
        "list": PEOPLE_READERS,
        "retrieve": PEOPLE_READERS,
        "create": {Role.ADMIN},
        "end": {Role.ADMIN},
    }
    http_method_names = ["get", "post", "head", "options"]
    model = Posting
    serializer_class = PostingOutput
    pagination_class = None

    def _officer(self) -> Officer:
        return officer_get_for_user(self.request.user, self.kwargs["officer_id"])

    def scoped_queryset(self) -> QuerySet[Posting]:
        return postings_of(self._officer())

    @extend_schema(
        request=PostingCreateInput,
        responses={201: PostingOutput, **ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    )
    @refusals(
        "an id in the body that names no record the caller may use",
        "a start before the current posting's",
    )
    def create(self, request: Request, officer_id: str) -> Response:
        officer = self._officer()
        data = PostingCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        posting = services.posting_start(
            actor=caller(request), officer=officer, **data.validated_data
        )
        return Response(PostingOutput(posting).data, status=status.HTTP_201_CREATED)

    @refusals("an end before the posting started", "a posting that has ended already")
    @extend_schema(
        request=PostingEndInput,
        responses={200: PostingOutput, **ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, officer_id: str, pk: str) -> Response:
        """End this posting without a new one (the officer leaves specialist work)."""
        posting = self.get_object()
        data = PostingEndInput(data=request.data)
        data.is_valid(raise_exception=True)
        posting = services.posting_end(
            actor=caller(request), posting=posting, **data.validated_data
        )
        return Response(PostingOutput(posting).data)


# --- Bulk import (README, "Bulk import (CSV/XLSX)") -----------------------------------------

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Room for the multipart envelope and the two digests around the file itself.
MULTIPART_OVERHEAD = 16 * 1024
IMPORT_FILE_MISSING = (
    "Send the file: multipart/form-data with a `file` part, or a text/csv or XLSX body."
)


@dataclass(frozen=True)
class RawUpload:
    content: bytes


class _RawFileParser(BaseParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return RawUpload(read_limited(stream, parser_context))


class CsvFileParser(_RawFileParser):
    """A CSV file as the whole body, within the view's body limit (413 past it)."""

    media_type = "text/csv"


class XlsxFileParser(_RawFileParser):
    """An XLSX workbook as the whole body, within the view's body limit (413 past it)."""

    media_type = XLSX_MEDIA_TYPE


class LimitedMultiPartParser(MultiPartParser):
    """multipart/form-data refused (413) before it is read when its declared length is past
    the view's body limit; a body of no declared length reads as empty."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = body_limit(parser_context)
        declared = (parser_context or {})["request"].META.get("CONTENT_LENGTH") or "0"
        try:
            too_large = int(declared) > limit + MULTIPART_OVERHEAD
        except ValueError:
            too_large = False
        if too_large:
            raise RequestTooLarge(limit)
        return super().parse(stream, media_type, parser_context)


def uploaded_content(request: Request) -> bytes:
    if isinstance(request.data, RawUpload):
        return request.data.content
    upload = request.FILES.get("file")
    if upload is None:
        raise DomainError(IMPORT_FILE_MISSING, field="file", code="required")
    limit = settings.PEOPLE_IMPORT_MAX_BYTES
    if (upload.size or 0) > limit:
        raise RequestTooLarge(limit)
    return bytes(upload.read())


class PeopleImportUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="The CSV (UTF-8) or XLSX file.")


HEX_SHA256 = r"^[0-9a-fA-F]{64}$"
SHA256_INVALID = "Send the 64 hexadecimal digits the preview answered."


class PeopleImportApplyInput(serializers.Serializer):
    sha256 = serializers.RegexField(
        HEX_SHA256,
        error_messages={"invalid": SHA256_INVALID},
        help_text="The file's SHA-256, as the preview answered it.",
    )
    plan_sha256 = serializers.RegexField(
        HEX_SHA256,
        error_messages={"invalid": SHA256_INVALID},
        help_text="The plan's fingerprint, as the preview answered it.",
    )


class PeopleImportApplyUploadInput(PeopleImportUploadInput, PeopleImportApplyInput):
    pass


class PeopleImportCountsOutput(serializers.Serializer):
    created = serializers.IntegerField()
    changed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class PeopleImportRowOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's number in the file (the header is 1).")
    kind = StringField(help_text="unit, person or posting.")
    key = StringField(help_text="What the row names (unit; user name; posting).")
    outcome = StringField(help_text="created, changed, unchanged or rejected.")
    changes = serializers.ListField(
        child=StringField(), help_text="The columns a `changed` row changes."
    )
    notes = serializers.ListField(
        child=StringField(),
        help_text="What else the row does (a new posting ends the officer's open one).",
    )
    # Declared fields leave the class (DRF's metaclass): Serializer.errors is untouched.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=StringField()),
        help_text="A `rejected` row's reasons, by column.",
    )


class PeopleImportReportOutput(serializers.Serializer):
    sha256 = StringField(help_text="The file's SHA-256: send it back to apply.")
    plan_sha256 = StringField(
        help_text="The plan's fingerprint: send it back to apply. Apply refuses (409) when "
        "the service changed so that the file would do something else."
    )
    format = StringField(help_text="csv or xlsx (told by the content).")
    applied = serializers.BooleanField()
    can_apply = serializers.BooleanField(help_text="No row is rejected.")
    counts = PeopleImportCountsOutput()
    rows = PeopleImportRowOutput(many=True)


IMPORT_ERRORS = {
    **ERROR_RESPONSES,
    413: OpenApiResponse(description="The file is larger than PEOPLE_IMPORT_MAX_BYTES."),
    415: OpenApiResponse(description="Not multipart/form-data, text/csv or XLSX."),
}
IMPORT_REQUEST = {
    "multipart/form-data": PeopleImportUploadInput,
    "text/csv": OpenApiTypes.STR,
    XLSX_MEDIA_TYPE: OpenApiTypes.BINARY,
}


class PeopleImportPreviewView(ApiView):
    """What importing a file of units, people and postings would do, row by row (created,
    changed, unchanged, rejected with reasons) and counts. Changes nothing."""

    roles = {Role.ADMIN}
    parser_classes = [LimitedMultiPartParser, CsvFileParser, XlsxFileParser]
    body_limit_setting = "PEOPLE_IMPORT_MAX_BYTES"

    @extend_schema(
        request=IMPORT_REQUEST, responses={200: PeopleImportReportOutput, **IMPORT_ERRORS}
    )
    @refusals("a file whose columns or rows do not parse")
    def post(self, request: Request) -> Response:
        report = services.people_import_preview(
            actor=caller(request), content=uploaded_content(request)
        )
        return Response(PeopleImportReportOutput(services.import_report_body(report)).data)


class PeopleImportApplyView(ApiView):
    """Apply a previewed file in one transaction, through the usual services and their
    audit events, plus one event for the import. Send the file again with the preview's
    `sha256` and `plan_sha256` (multipart fields, or query parameters with a raw body)."""

    roles = {Role.ADMIN}
    parser_classes = [LimitedMultiPartParser, CsvFileParser, XlsxFileParser]
    body_limit_setting = "PEOPLE_IMPORT_MAX_BYTES"

    @extend_schema(
        request={**IMPORT_REQUEST, "multipart/form-data": PeopleImportApplyUploadInput},
        parameters=[
            OpenApiParameter("sha256", str, description="With a raw body: the file's SHA-256."),
            OpenApiParameter("plan_sha256", str, description="With a raw body: the plan's."),
        ],
        responses={
            200: PeopleImportReportOutput,
            **IMPORT_ERRORS,
            400: OpenApiResponse(
                description="Invalid input, or rejected rows (`code` `import_rejected`, with "
                "the report's fields): nothing was imported."
            ),
            409: OpenApiResponse(
                description="Not the file previewed (`file_changed`), or the service changed "
                "since the preview (`plan_changed`): nothing was imported."
            ),
        },
    )
    @refusals("a file whose columns or rows do not parse", "the preview's digests missing")
    def post(self, request: Request) -> Response:
        content = uploaded_content(request)
        source = request.query_params if isinstance(request.data, RawUpload) else request.data
        digests = PeopleImportApplyInput(
            data={key: source.get(key, "") for key in ("sha256", "plan_sha256")}
        )
        digests.is_valid(raise_exception=True)
        report = services.people_import_apply(
            actor=caller(request), content=content, **digests.validated_data
        )
        return Response(PeopleImportReportOutput(services.import_report_body(report)).data)


# --- Me --------------------------------------------------------------------------------------


class MeUnitOutput(ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "name", "kind"]


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = StringField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="The account's role.")
    hats = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        help_text="What this person may be served as: their role, and `officer` when they "
        "also hold an officer record (a supervisor who reviews material too). Views that "
        "serve both answer in the role unless the request sends `Acting-As: officer`.",
    )
    otp_verified = serializers.BooleanField()
    two_factor_required = serializers.BooleanField()
    has_two_factor = serializers.BooleanField()
    password_must_change = serializers.BooleanField(
        help_text="Signed in with a temporary password from an OH lead: choose a new one at "
        "/auth/password before anything else answers."
    )
    officer = OfficerOutput(required=False, allow_null=True)
    units = MeUnitOutput(many=True, required=False)
    notify_by = serializers.ChoiceField(
        choices=NotifyBy.choices,
        required=False,
        help_text="Supervisors and occupational health: how non-urgent notifications are "
        "e-mailed (`digest`: one summary a day; `immediate`: each at once). Urgent ones, "
        "and everyone else's, are e-mailed at once.",
    )


class MeUpdateInput(serializers.Serializer):
    notify_by = serializers.ChoiceField(choices=NotifyBy.choices, required=False)


class MeView(ApiView):
    """Who am I: role, two-factor state, my officer record or the units I supervise. A
    supervisor or clinician chooses here how notifications are e-mailed (PATCH)."""

    roles = {"get": ALL_ROLES, "patch": DIGEST_ROLES}
    allow_unverified = True

    def check_permissions(self, request: Request) -> None:
        # Anyone signed in reads /me (to learn they must enrol); a change needs the second
        # factor, refused as such before the role is looked at, as everywhere else.
        self.allow_unverified = request.method in SAFE_METHODS
        super().check_permissions(request)

    @extend_schema(responses={200: MeOutput, 401: ERROR_RESPONSES[401]})
    def get(self, request: Request) -> Response:
        return Response(MeOutput(self._body(request, caller(request))).data)

    @extend_schema(request=MeUpdateInput, responses={200: MeOutput, **ERROR_RESPONSES})
    def patch(self, request: Request) -> Response:
        """Choose how non-urgent notifications are e-mailed: `digest` or `immediate`."""
        data = MeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = caller(request)
        if "notify_by" in data.validated_data:
            user = accounts.user_notify_by_set(
                user=user, notify_by=data.validated_data["notify_by"]
            )
        return Response(MeOutput(self._body(request, user)).data)

    def _body(self, request: Request, user: User) -> dict[str, Any]:
        role = getattr(user, "account_role", None) or user.role
        officer = officer_of_user(user)
        body: dict[str, Any] = {
            "id": user.pk,
            "username": user.username,
            "role": role,
            "hats": [role] + ([Role.OFFICER] if officer and role != Role.OFFICER else []),
            "otp_verified": is_second_factor_verified(request),
            "two_factor_required": user.needs_two_factor,
            "has_two_factor": user_has_confirmed_device(user),
            "password_must_change": user.password_must_change,
        }
        verified_enough = body["otp_verified"] or not user.needs_two_factor
        if role == Role.OFFICER or (officer is not None and verified_enough):
            body["officer"] = officer
        if role == Role.SUPERVISOR and verified_enough:
            body["units"] = list(Unit.objects.filter(supervisors=user).order_by("name"))
        if role in DIGEST_ROLES:
            body["notify_by"] = user.notify_by
        return body
