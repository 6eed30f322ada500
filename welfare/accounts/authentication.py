from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from welfare.accounts.models import AuthToken, User
from welfare.accounts.services import token_authenticate
from welfare.core.context import set_caller
from welfare.core.errors import AUTHENTICATION_REQUIRED


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; the token must be live and its user active."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, AuthToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(AUTHENTICATION_REQUIRED)
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(AUTHENTICATION_REQUIRED) from exc
        token = token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(AUTHENTICATION_REQUIRED)
        set_caller(user_id=token.user.pk, role=token.user.role)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "welfare.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
