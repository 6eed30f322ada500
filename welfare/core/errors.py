"""Domain errors and the one exception handler that gives every error one JSON shape.

Field problems answer `{"field": ["message", ...], "code": "..."}`; everything else
answers `{"detail": "message", "code": "..."}`. Every error carries a `code` a client can
branch on (`invalid` for field problems unless a rule names its own, e.g. `overlap`).
Messages are constants so tests can import them instead of copying text.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from welfare.core.parsers import RequestTooLarge

NOT_FOUND = "Not found."
# Each API path has one form (docs/API.md, "URLs"); the other form answers 404 naming it.
NOT_FOUND_WITHOUT_SLASH = "Not found. The address is {path} (no trailing slash)."
NOT_FOUND_WITH_SLASH = "Not found. The address is {path} (with a trailing slash)."
BAD_REQUEST = "The request was refused as malformed (its Host, or too many fields or files)."
AUTHENTICATION_REQUIRED = "Authentication credentials were not provided or have expired."
ROLE_FORBIDDEN = "Your role does not allow this."
TWO_FACTOR_REQUIRED = (
    "Two-factor authentication is required for your role: enrol and confirm a TOTP device, "
    "then log in again with a code."
)
PASSKEY_REQUIRED = (
    "Your role signs in with a passkey, which only the web app takes: use the web app "
    "(PASSKEY_REQUIRED_ROLES)."
)
PASSWORD_CHANGE_REQUIRED = (
    "You signed in with a temporary password: choose your own password first "  # noqa: S105
    "(POST /api/v1/auth/password)."
)
SERVER_ERROR = "The server could not complete the request."


class DomainError(Exception):
    """A business rule refused the request. Raised by services, mapped to 4xx by the handler."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        fields: dict[str, list[str]] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or ""
        self.field = field
        self.fields = fields
        self.code = code or self.default_code
        super().__init__(self.message or str(fields))

    def body(self) -> dict[str, Any]:
        if self.fields:
            return {name: list(messages) for name, messages in self.fields.items()}
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message, "code": self.code}


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"

    def __init__(self, message: str = NOT_FOUND, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TooManyAttempts(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked"


class Unauthorized(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"


def request_too_large() -> exceptions.APIException:
    """Django's RequestDataTooBig (a form or multipart body past DATA_UPLOAD_MAX_MEMORY_SIZE)
    as the parsers' own 413, so every too-large body reads the same."""
    return RequestTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def error_response(error: DomainError) -> Response:
    return Response(error.body(), status=error.status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views loads the authentication classes, which import us.
    from rest_framework.views import exception_handler as drf_exception_handler
    from rest_framework.views import set_rollback

    if isinstance(exc, DomainError):
        set_rollback()
        refused = error_response(exc)
        refused.data.setdefault("code", exc.code)
        return refused
    if isinstance(exc, RequestDataTooBig):  # a form body read by Django past its limit
        exc = request_too_large()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(ROLE_FORBIDDEN)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        response.data = {"non_field_errors": data} if isinstance(data, list) else dict(data)
        response.data["code"] = exceptions.ValidationError.default_code
        return response
    if isinstance(exc, exceptions.APIException):
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        codes = exc.get_codes()
        response.data = {
            "detail": str(detail if detail is not None else exc.detail),
            "code": codes if isinstance(codes, str) else exc.default_code,
        }
    return response
