from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import django_filters
import segno
from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import DateTimeField

from welfare.accounts import services, sso
from welfare.accounts.models import GrantKind, GrantState, RoleGrant, User
from welfare.accounts.selectors import (
    active_clinicians,
    otp_devices_of,
    role_grants_visible_to,
    users_visible_to,
)
from welfare.core.api import (
    ApiView,
    ApiViewSet,
    ScopedListRetrieveMixin,
    SelfCommittingApiView,
    caller,
    caller_token,
)
from welfare.core.db import get_or_404
from welfare.core.errors import DomainError, NotFound, Unauthorized
from welfare.core.fields import ModelSerializer, StringField
from welfare.core.filters import FilterSet
from welfare.core.permissions import PUBLIC
from welfare.core.roles import ALL_ROLES, Role
from welfare.core.schema import refusals

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: `{field: [messages], code}`."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Role not allowed, or two-factor required."),
}
NOT_FOUND_RESPONSES = {404: OpenApiResponse(description="Not found, or not yours to see.")}

ViewSetT = TypeVar("ViewSetT", bound=type)


def document_reads(
    output: Any = None, *, list_not_found: str | None = None, description: str | None = None
) -> Callable[[ViewSetT], ViewSetT]:
    """Document every answer a viewset's `list` and `retrieve` give, not only the 200: 401
    without a valid token, 403 for a role they do not serve (or a missing second factor), 404
    for an item that is not there or not the caller's, and for `list` a 400 for a filter value
    that does not parse and a 404 for a page past the end.

    `output` is the serializer of one row (the viewset's `serializer_class` by default);
    `list_not_found` describes a 404 of an unpaginated list (a parent that is not there);
    `description` says what differs by caller.
    """

    def decorate(viewset: ViewSetT) -> ViewSetT:
        row = output or viewset.serializer_class  # type: ignore[attr-defined]
        denied = {401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]}
        list_errors: dict[int, OpenApiResponse] = dict(denied)
        filtered = getattr(viewset, "filterset_class", None) or getattr(
            viewset, "filterset_fields", None
        )
        paginated = getattr(viewset, "pagination_class", None) is not None
        if filtered or paginated:
            list_errors[400] = OpenApiResponse(
                description="A filter value that does not parse, an empty one, or a `page_size` "
                "out of range: `{parameter: [messages], code}`."
            )
        if paginated:
            list_errors[404] = OpenApiResponse(description=list_not_found or "No such page.")
        elif list_not_found:
            list_errors[404] = OpenApiResponse(description=list_not_found)
        return extend_schema_view(
            list=extend_schema(
                responses={200: row, **dict(sorted(list_errors.items()))}, description=description
            ),
            retrieve=extend_schema(
                responses={200: row, **denied, **NOT_FOUND_RESPONSES}, description=description
            ),
        )(viewset)

    return decorate


# --- Log-in and tokens -------------------------------------------------------------------


class LoginInput(serializers.Serializer):
    username = StringField(max_length=150, trim_whitespace=True)
    password = StringField(max_length=1024, trim_whitespace=False)
    otp = serializers.RegexField(
        r"^\d{6,8}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Enter the 6-digit code from your authenticator app."},
    )


class LoginOutput(serializers.Serializer):
    token = StringField()
    expires_at = DateTimeField()
    idle_timeout_seconds = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices)
    otp_verified = serializers.BooleanField()
    two_factor_required = serializers.BooleanField()
    password_must_change = serializers.BooleanField(
        help_text="A temporary password from an OH lead: only /auth/password (after enrolling "
        "a device), /me and enrolment answer until a new one is chosen."
    )


class LoginView(SelfCommittingApiView):
    """Log in with user name, password and (where a device is confirmed) a TOTP code."""

    roles = {PUBLIC}
    authentication_classes: list[Any] = []

    @extend_schema(
        request=LoginInput,
        responses={
            200: LoginOutput,
            400: ERROR_RESPONSES[400],
            401: OpenApiResponse(description="Log-in refused (no hint which part was wrong)."),
            403: OpenApiResponse(
                description="`passkey_required`: the role is in PASSKEY_REQUIRED_ROLES, where "
                "a code does not complete the second factor; use the web app."
            ),
            413: OpenApiResponse(description="Request body too large."),
            429: OpenApiResponse(
                description="Account, or client address, locked after repeated failures."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login(
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp") or None,
        )
        body = LoginOutput(
            {
                "token": result.raw_token,
                "expires_at": result.token.expires_at,
                "idle_timeout_seconds": services.token_policy().idle.total_seconds(),
                "role": result.user.role,
                "otp_verified": result.token.otp_verified,
                "two_factor_required": result.user.needs_two_factor,
                "password_must_change": result.user.password_must_change,
            }
        ).data
        return Response(body)


class SsoLoginInput(serializers.Serializer):
    id_token = StringField(
        max_length=16384,
        trim_whitespace=True,
        help_text="The id_token the force's directory issued to this client (authorisation "
        "code with PKCE, done by the client), signed RS256.",
    )
    nonce = StringField(
        max_length=255,
        trim_whitespace=False,
        help_text="The nonce the client sent in its authorisation request; the token must "
        "carry the same.",
    )
    otp = serializers.RegexField(
        r"^\d{6,8}$",
        required=False,
        allow_blank=True,
        help_text="The code from the authenticator app, for a user who has one (unless the "
        "directory's multi-factor sign-in is trusted).",
        error_messages={"invalid": "Enter the 6-digit code from your authenticator app."},
    )


class SsoUnavailableError(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "sso_unavailable"


SSO_NOT_CONFIGURED = "Single sign-on is not configured on this service."
SSO_UNAVAILABLE = "The directory cannot be reached at the moment. Try again in a few minutes."


class SsoLoginView(SelfCommittingApiView):
    """Exchange an id_token from the force's directory for the same bearer token as a
    password log-in. The token is checked as the web app's sign-in checks it (signature
    with a key from the directory's JWKS, issuer, audience among OIDC_API_CLIENT_IDS,
    expiry, the nonce given here) and is accepted once."""

    roles = {PUBLIC}
    authentication_classes: list[Any] = []

    @extend_schema(
        request=SsoLoginInput,
        responses={
            200: LoginOutput,
            400: ERROR_RESPONSES[400],
            401: OpenApiResponse(
                description="Refused: a token that fails a check (`sso_refused`), no account "
                "linked to the directory id (`sso_not_linked`), an inactive account "
                "(`sso_inactive`), a code needed (`otp_required`) or wrong "
                "(`invalid_credentials`), a token used already (`sso_token_used`)."
            ),
            404: OpenApiResponse(description="Single sign-on is not configured."),
            413: OpenApiResponse(description="Request body too large."),
            429: OpenApiResponse(description="Account, or client address, locked."),
            503: OpenApiResponse(description="The directory cannot be reached."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if not sso.configured():
            raise NotFound(SSO_NOT_CONFIGURED, code="sso_not_configured")
        data = SsoLoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        id_token = data.validated_data["id_token"]
        backend = sso.DirectoryBackend(audiences=list(settings.OIDC_API_CLIENT_IDS))
        try:
            claims = backend.verify_id_token(id_token, nonce=data.validated_data["nonce"])
        except sso.TokenRefused as refused:
            services.sso_refusal_record(reason=refused.reason, channel="api")
            raise Unauthorized(services.SSO_REFUSED, code="sso_refused") from None
        except sso.SsoUnavailable:
            services.sso_refusal_record(reason="provider_unavailable", channel="api")
            raise SsoUnavailableError(SSO_UNAVAILABLE) from None
        result, _ = services.sso_token_exchange(
            claims=claims,
            token_hash=sso.token_hash(id_token),
            otp=data.validated_data.get("otp") or None,
        )
        body = LoginOutput(
            {
                "token": result.raw_token,
                "expires_at": result.token.expires_at,
                "idle_timeout_seconds": services.token_policy().idle.total_seconds(),
                "role": result.user.role,
                "otp_verified": result.token.otp_verified,
                "two_factor_required": result.user.needs_two_factor,
                "password_must_change": result.user.password_must_change,
            }
        ).data
        return Response(body)


class LogoutView(ApiView):
    """Revoke the token used for this call."""

    roles = ALL_ROLES
    allow_unverified = True

    @extend_schema(request=None, responses={204: None, 401: ERROR_RESPONSES[401]})
    def post(self, request: Request) -> Response:
        services.logout(token=caller_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeInput(serializers.Serializer):
    current_password = StringField(max_length=1024, trim_whitespace=False)
    new_password = StringField(max_length=1024, trim_whitespace=False)


class PasswordChangeView(SelfCommittingApiView):
    """Change your own password; every other session of yours ends. Wrong current passwords
    are counted (and kept) toward a pause on changes."""

    roles = ALL_ROLES
    allow_password_must_change = True

    @extend_schema(
        request=PasswordChangeInput,
        responses={
            204: None,
            **ERROR_RESPONSES,
            429: OpenApiResponse(description="Too many wrong current passwords: wait."),
        },
    )
    @refusals("the current password is not right", "the new password fails the password rules")
    def post(self, request: Request) -> Response:
        data = PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user=caller(request), token=caller_token(request), **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Two-factor devices ---------------------------------------------------------------------


class OtpDeviceInput(serializers.Serializer):
    name = StringField(max_length=64, required=False, allow_blank=True)


class OtpDeviceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = StringField()
    confirmed = serializers.BooleanField()
    created_at = DateTimeField(allow_null=True)
    last_used_at = DateTimeField(allow_null=True)


class OtpEnrolmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = StringField()
    confirmed = serializers.BooleanField()
    otpauth_url = StringField()
    qr_svg = StringField()


class OtpConfirmInput(serializers.Serializer):
    otp = serializers.RegexField(
        r"^\d{6,8}$",
        error_messages={"invalid": "Enter the 6-digit code from your authenticator app."},
    )


class OtpDeviceListCreateView(ApiView):
    """Your TOTP devices; POST starts enrolling a new one (confirm it with a code)."""

    roles = ALL_ROLES
    allow_unverified = True

    @extend_schema(responses={200: OtpDeviceOutput(many=True), 401: ERROR_RESPONSES[401]})
    def get(self, request: Request) -> Response:
        return Response(OtpDeviceOutput(otp_devices_of(caller(request)), many=True).data)

    @extend_schema(request=OtpDeviceInput, responses={201: OtpEnrolmentOutput, **ERROR_RESPONSES})
    def post(self, request: Request) -> Response:
        data = OtpDeviceInput(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.otp_device_start(
            user=caller(request),
            verified=caller_token(request).otp_verified,
            name=data.validated_data.get("name", ""),
        )
        url = device.config_url
        qr = segno.make(url, error="m").svg_inline(scale=4, title="Two-factor set-up code")
        body = OtpEnrolmentOutput(
            {
                "id": device.pk,
                "name": device.name,
                "confirmed": device.confirmed,
                "otpauth_url": url,
                "qr_svg": qr,
            }
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class OtpDeviceConfirmView(SelfCommittingApiView):
    """Confirm a new device with a code from it; this session then counts as verified."""

    roles = ALL_ROLES
    allow_unverified = True

    @extend_schema(
        request=OtpConfirmInput,
        responses={
            200: OtpDeviceOutput,
            404: OpenApiResponse(description="No such device of yours."),
            **ERROR_RESPONSES,
        },
    )
    @refusals("a code that is wrong, or already used")
    def post(self, request: Request, device_id: int) -> Response:
        data = OtpConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.otp_device_confirm(
            user=caller(request),
            token=caller_token(request),
            device_id=device_id,
            otp=data.validated_data["otp"],
        )
        return Response(OtpDeviceOutput(device).data)


# --- User administration -----------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "anyOf": [{"format": "email"}, {"maxLength": 0}]},
)
class EmailOrBlankField(StringField):
    """An address, or "" when none is on file (the model's blank value, as it is stored).
    Declared as such: `format: email` alone would make "" (the default) invalid."""

    default_error_messages = {
        "invalid_email": serializers.EmailField.default_error_messages["invalid"]
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_blank=True, max_length=254, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        address = super().to_internal_value(data)
        try:
            EmailValidator()(address)
        except DjangoValidationError:
            self.fail("invalid_email")
        return address


class UserOutput(ModelSerializer):
    has_two_factor = serializers.BooleanField(read_only=True)
    awaiting_oh_approval = serializers.BooleanField(
        read_only=True,
        help_text="Proposed as a clinician (the role `oh`, or reactivation): the account stays "
        "as it is until an OH lead approves.",
    )
    email = EmailOrBlankField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "role",
            "email",
            "is_active",
            "has_two_factor",
            "awaiting_oh_approval",
            "last_login",
            "date_joined",
        ]
        read_only_fields = fields


class UserCreateInput(serializers.Serializer):
    username = StringField(max_length=150, validators=[UnicodeUsernameValidator()])
    role = serializers.ChoiceField(choices=Role.choices)
    password = StringField(
        write_only=True,
        required=False,
        max_length=1024,
        trim_whitespace=False,
        help_text="Required, except for the role `oh`: a clinician's account opens when an OH "
        "lead approves it, and its first password comes from that lead.",
    )
    email = EmailOrBlankField(required=False, default="")
    is_active = serializers.BooleanField(required=False, default=True)


class UserUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    password = StringField(write_only=True, required=False, max_length=1024, trim_whitespace=False)
    email = EmailOrBlankField(required=False)
    is_active = serializers.BooleanField(required=False)


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = django_filters.BooleanFilter()
    username = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "is_active", "username"]


@document_reads()
class UserViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """User accounts (admin). DELETE deactivates; users are never deleted. Making someone a
    clinician (the role `oh`, or reactivating one) is a proposal an OH lead approves; a
    clinician's password and devices are never reset here (403)."""

    roles = {
        action: {Role.ADMIN}
        for action in ("list", "retrieve", "create", "partial_update", "destroy", "otp_reset")
    }
    model = User
    serializer_class = UserOutput
    filterset_class = UserFilter
    ordering_fields = ["username", "date_joined", "last_login"]

    def scoped_queryset(self) -> QuerySet[User]:
        return users_visible_to(self.request.user)

    def _output(self, user: User) -> dict[str, Any]:
        return UserOutput(self.get_queryset().get(pk=user.pk)).data

    @extend_schema(request=UserCreateInput, responses={201: UserOutput, **ERROR_RESPONSES})
    @refusals(
        "a password missing (needed for every role but `oh`)",
        "a username already taken",
        "a password that fails the password rules",
    )
    def create(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=caller(request), **data.validated_data)
        return Response(self._output(user), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=UserUpdateInput,
        responses={200: UserOutput, **ERROR_RESPONSES, **NOT_FOUND_RESPONSES},
    )
    @refusals("a password that fails the password rules")
    def partial_update(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        data = UserUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.user_update(actor=caller(request), user=user, changes=dict(data.validated_data))
        return Response(self._output(user))

    @extend_schema(responses={204: None, **ERROR_RESPONSES, **NOT_FOUND_RESPONSES})
    @refusals("the caller's own account")
    def destroy(self, request: Request, pk: str) -> Response:
        services.user_deactivate(actor=caller(request), user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES, **NOT_FOUND_RESPONSES})
    @action(detail=True, methods=["post"], url_path="otp-reset")
    def otp_reset(self, request: Request, pk: str) -> Response:
        """Remove the user's two-factor devices (a lost phone) and end their sessions. Not a
        clinician's (403): an OH lead recovers those."""
        services.otp_devices_reset(actor=caller(request), user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Separation of duties: proposals of clinical access, recovery ---------------------------


class RoleGrantOutput(ModelSerializer):
    username = StringField(source="user.username", read_only=True)
    proposed_by_username = StringField(source="proposed_by.username", read_only=True)
    decided_by_username = StringField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = RoleGrant
        fields = [
            "id",
            "kind",
            "state",
            "user",
            "username",
            "proposed_by",
            "proposed_by_username",
            "proposed_at",
            "decided_by",
            "decided_by_username",
            "decided_at",
        ]
        read_only_fields = fields


class ApprovalOutput(RoleGrantOutput):
    temporary_password = StringField(
        allow_null=True,
        read_only=True,
        help_text="For an approved `oh` grant only: the new clinician's one-time password, "
        "shown this once; they choose their own at first log-in. Null otherwise, and on a "
        "repeated approval.",
    )

    class Meta(RoleGrantOutput.Meta):
        fields = [*RoleGrantOutput.Meta.fields, "temporary_password"]
        read_only_fields = fields


class RoleGrantFilter(FilterSet):
    state = django_filters.ChoiceFilter(choices=GrantState.choices)
    kind = django_filters.ChoiceFilter(choices=GrantKind.choices)

    class Meta:
        model = RoleGrant
        fields = ["state", "kind"]


DECISION_ERRORS = {
    **ERROR_RESPONSES,
    403: OpenApiResponse(
        description="Not an OH lead, or the lead proposed it or is its subject (two-person "
        "rule), or a second factor is missing."
    ),
    **NOT_FOUND_RESPONSES,
    409: OpenApiResponse(description="Decided otherwise already, or the account changed."),
}


@document_reads(
    description="OH leads: every proposal; administrators: the ones they made; anyone else "
    "none. Newest first."
)
class RoleGrantViewSet(ScopedListRetrieveMixin, ApiViewSet):
    """Proposals to give someone clinical access (`oh`) or make a clinician an OH lead
    (`oh_lead`). An OH lead who neither proposed it nor is its subject approves or
    declines; every step is audited."""

    roles = {
        "list": {Role.OH, Role.ADMIN},
        "retrieve": {Role.OH, Role.ADMIN},
        "approve": {Role.OH},
        "decline": {Role.OH, Role.ADMIN},
    }
    model = RoleGrant
    serializer_class = RoleGrantOutput
    filterset_class = RoleGrantFilter
    ordering_fields = ["proposed_at"]

    def scoped_queryset(self) -> QuerySet[RoleGrant]:
        return role_grants_visible_to(self.request.user)

    @extend_schema(request=None, responses={200: ApprovalOutput, **DECISION_ERRORS})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve: the account becomes an active clinician (with a temporary password for
        the lead to hand over), or the clinician a lead. Approving again changes nothing."""
        decision = services.role_grant_approve(actor=caller(request), grant=self.get_object())
        body = ApprovalOutput(decision.grant).data
        body["temporary_password"] = decision.temporary_password
        return Response(body, headers={"Cache-Control": "no-store"})

    @extend_schema(request=None, responses={200: RoleGrantOutput, **DECISION_ERRORS})
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        """Decline (an OH lead): nothing changes for the account; declining again changes
        nothing. The proposer (an administrator, or a lead) declining their own pending
        proposal withdraws it."""
        grant = services.role_grant_decline(actor=caller(request), grant=self.get_object())
        return Response(RoleGrantOutput(grant).data)


class ProposeLeadView(ApiView):
    """Propose making an active clinician an OH lead: an administrator or a lead proposes,
    another lead approves. A repeated proposal answers the pending one (200)."""

    roles = {Role.ADMIN, Role.OH}

    @extend_schema(
        request=None,
        responses={201: RoleGrantOutput, 200: RoleGrantOutput, **DECISION_ERRORS},
    )
    def post(self, request: Request, user_id: int) -> Response:
        user = get_or_404(active_clinicians(), user_id)
        grant, created = services.role_grant_propose(
            actor=caller(request), user=user, kind=GrantKind.OH_LEAD
        )
        return Response(
            RoleGrantOutput(grant).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RecoveryOutput(serializers.Serializer):
    user = serializers.IntegerField()
    temporary_password = StringField(
        help_text="Shown this once, never stored in clear nor audited: hand it to the "
        "clinician, who must choose a new password (and enrol a device) at log-in."
    )
    password_must_change = serializers.BooleanField()


class ClinicianRecoverView(ApiView):
    """An OH lead recovers another clinician's account (forgotten password, lost phone):
    a one-time password, the devices removed, every session ended. Audited."""

    roles = {Role.OH}

    @extend_schema(request=None, responses={200: RecoveryOutput, **DECISION_ERRORS})
    def post(self, request: Request, user_id: int) -> Response:
        user = get_or_404(active_clinicians(), user_id)
        temporary = services.account_recover(actor=caller(request), user=user)
        body = RecoveryOutput(
            {"user": user.pk, "temporary_password": temporary, "password_must_change": True}
        ).data
        return Response(body, headers={"Cache-Control": "no-store"})
