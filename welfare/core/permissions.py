"""Deny-by-default access: every endpoint states the roles it serves.

A view declares `roles`, either one set for every action or a mapping from
action (viewset action name, or lower-case HTTP method) to a set. An action
without roles is refused. Privileged roles also need a token issued with a
verified second factor, except on the few views that set `allow_unverified`
(so they can reach /me and enrol a device). A user signed in with a temporary password
from an OH lead's recovery reaches only those views and the password change until they
choose their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from welfare.core.errors import (
    AUTHENTICATION_REQUIRED,
    PASSKEY_REQUIRED,
    PASSWORD_CHANGE_REQUIRED,
    ROLE_FORBIDDEN,
    TWO_FACTOR_REQUIRED,
)
from welfare.core.roles import TWO_FACTOR_ROLES

PUBLIC = "public"


class TwoFactorRequired(exceptions.PermissionDenied):
    default_detail = TWO_FACTOR_REQUIRED
    default_code = "two_factor_required"


class PasswordChangeRequired(exceptions.PermissionDenied):
    default_detail = PASSWORD_CHANGE_REQUIRED
    default_code = "password_change_required"


def roles_for(view: Any, request: Request) -> frozenset[str]:
    declared: Iterable[str] | Mapping[str, Iterable[str]] | None = getattr(view, "roles", None)
    if declared is None:
        return frozenset()
    if isinstance(declared, Mapping):
        action = getattr(view, "action", None) or (request.method or "").lower()
        if action == "metadata" or request.method in {"HEAD", "OPTIONS"}:
            action = "get" if "get" in declared else (getattr(view, "action", None) or "list")
        chosen = declared.get(action)
        return frozenset(chosen) if chosen is not None else frozenset()
    return frozenset(declared)


class PasskeyRequired(exceptions.PermissionDenied):
    default_detail = PASSKEY_REQUIRED
    default_code = "passkey_required"


def is_second_factor_verified(request: Request) -> bool:
    """The token was issued with a verified second factor. A token is verified by a TOTP
    code at most, which does not complete the second factor of a role in
    PASSKEY_REQUIRED_ROLES (passkeys are taken by the web app only)."""
    if getattr(request.user, "role", None) in settings.PASSKEY_REQUIRED_ROLES:
        return False
    return bool(getattr(request.auth, "otp_verified", False))


class RolePermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        allowed = roles_for(view, request)
        if PUBLIC in allowed:
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            raise exceptions.NotAuthenticated(AUTHENTICATION_REQUIRED)
        role = getattr(user, "role", "")
        if (
            role in TWO_FACTOR_ROLES
            and not is_second_factor_verified(request)
            and not getattr(view, "allow_unverified", False)
        ):
            if role in settings.PASSKEY_REQUIRED_ROLES:
                raise PasskeyRequired()
            raise TwoFactorRequired()
        if (
            getattr(user, "password_must_change", False)
            and not getattr(view, "allow_unverified", False)
            and not getattr(view, "allow_password_must_change", False)
        ):
            raise PasswordChangeRequired()
        if role not in allowed:
            raise exceptions.PermissionDenied(ROLE_FORBIDDEN)
        return True
