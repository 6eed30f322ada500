"""Deny-by-default access: every endpoint states the roles it serves.

A view declares `roles`, either one set for every action or a mapping from
action (viewset action name, or lower-case HTTP method) to a set. An action
without roles is refused. Privileged roles also need a token issued with a
verified second factor, except on the few views that set `allow_unverified`
(so they can reach /me and enrol a device). A user signed in with a temporary password
from an OH lead's recovery reaches only those views and the password change until they
choose their own.

A person is served in one hat (welfare.core.rules.serving_hat): their role, or the officer
hat of a person with an officer record where the view serves officers and not their role
(or where the request asks for it with the `Acting-As: officer` header). The request's user
is then that person wearing the hat: `role` says the hat, `account_role` the role of the
account, and the second factor is the one the account's role needs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from welfare.core.context import set_caller
from welfare.core.errors import (
    AUTHENTICATION_REQUIRED,
    PASSKEY_REQUIRED,
    PASSWORD_CHANGE_REQUIRED,
    ROLE_FORBIDDEN,
    TWO_FACTOR_REQUIRED,
)
from welfare.core.roles import ACTING_AS_HEADER, TWO_FACTOR_ROLES
from welfare.core.rules import serving_hat

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


def has_officer_record(user: Any) -> bool:
    """Whether the person also holds an officer record (read once, then cached on them)."""
    return hasattr(user, "officer")


def wearing(user: Any, hat: str) -> Any:
    """The person as served in `hat`: themselves in their own role, otherwise a copy whose
    `role` is the hat (the account keeps its role: the copy refuses to save it)."""
    if hat == user.role:
        return user
    worn = copy.copy(user)
    worn.account_role = user.role
    worn.role = hat
    return worn


def hat_for(user: Any, allowed: frozenset[str], asked: str | None) -> str | None:
    """The hat a view serving `allowed` serves this person in (None: none of theirs)."""
    role = getattr(user, "role", "")
    if asked is None and role in allowed:
        return role  # the usual case, without reading the officer record
    officer = role != "officer" and has_officer_record(user)
    return serving_hat(allowed=allowed, role=role, has_officer_record=officer, asked=asked)


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


def handles(view: Any, request: Request) -> bool:
    """Whether the view serves the request's method, as DRF's dispatch will decide (a
    viewset has a handler for each method its route maps)."""
    method = (request.method or "").lower()
    return method in view.http_method_names and hasattr(view, method)


class RolePermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        allowed = roles_for(view, request)
        if PUBLIC in allowed:
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            raise exceptions.NotAuthenticated(AUTHENTICATION_REQUIRED)
        if not handles(view, request):  # 405, not a role refusal for a method never served
            raise exceptions.MethodNotAllowed(request.method or "")
        role = getattr(user, "role", "")
        account_role = getattr(user, "account_role", None) or role  # whatever hat is worn
        if (
            account_role in TWO_FACTOR_ROLES
            and not is_second_factor_verified(request)
            and not getattr(view, "allow_unverified", False)
        ):
            if account_role in settings.PASSKEY_REQUIRED_ROLES:
                raise PasskeyRequired()
            raise TwoFactorRequired()
        if (
            getattr(user, "password_must_change", False)
            and not getattr(view, "allow_unverified", False)
            and not getattr(view, "allow_password_must_change", False)
        ):
            raise PasswordChangeRequired()
        hat = hat_for(user, allowed, request.headers.get(ACTING_AS_HEADER) or None)
        if hat is None:
            raise exceptions.PermissionDenied(ROLE_FORBIDDEN)
        if hat != role:
            request.user = wearing(user, hat)
            set_caller(user_id=user.pk, role=hat)
        return True
