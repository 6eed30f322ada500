"""Signing in to the web app through the force's directory (OpenID Connect).

mozilla-django-oidc runs the flow (state, nonce, PKCE, the code exchange); these views say
what happens around it: the same session, lifetime and lock-out as a password log-in, and
the service's own code step where the role needs it and the directory's multi-factor
sign-in is not trusted.
"""

from __future__ import annotations

from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from welfare.accounts import services as accounts
from welfare.accounts.models import SealedTOTPDevice, User
from welfare.accounts.sso import (
    OUTCOME_ATTRIBUTE,
    REFUSAL_ATTRIBUTE,
    SsoUnavailable,
    configured,
    oidc_setting,
)
from welfare.core import clock
from welfare.core.errors import DomainError
from welfare.web.auth import MFA_BY_DIRECTORY, SESSION_STARTED, home_url
from welfare.web.passkeys import passkey_step_start

# The directory's sign-in accepted, the service's own code still owed: who, since when, and
# where to go after. No user is signed in to the session until the code is right.
SSO_PENDING = "welfare_sso_pending"
ROLE_BACKEND = "welfare.accounts.backends.RoleBackend"

SSO_UNAVAILABLE = "Single sign-on is not available at the moment. Try again in a few minutes."


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "web/error.html", {"title": "Not found", "status": 404}, status=404)


class SsoStartView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """GET /login/sso: off to the directory's sign-in page (PKCE, state and nonce kept in
    the session by the library)."""

    def __init__(self, **kwargs: Any) -> None:
        # The library reads the endpoint here; it comes from discovery, at the request.
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        if attr.startswith("OIDC_OP_"):
            return oidc_setting(attr)
        return getattr(settings, attr, *args) if args else getattr(settings, attr)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not configured():
            return _not_found(request)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except SsoUnavailable:
            accounts.sso_refusal_record(reason="provider_unavailable", channel="web")
            messages.error(request, SSO_UNAVAILABLE)
            return HttpResponseRedirect(reverse("web:login"))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)  # type: ignore[no-any-return]


class SsoCallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """GET /login/sso/callback: the library checks state and exchanges the code; the
    backend checks the id_token and finds the account; here the session is opened (or the
    code step begins), or the refusal is said on the log-in page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not configured():
            return _not_found(request)
        states = request.session.get("oidc_states")
        if "code" in request.GET and request.GET.get("state") not in (states or {}):
            # A state this browser never asked for (a forged or replayed callback).
            accounts.sso_refusal_record(reason="state", channel="web")
            return self.login_failure()
        try:
            return super().get(request)  # type: ignore[no-any-return]
        except SuspiciousOperation:
            # A state this browser never asked for (a forged or replayed callback).
            accounts.sso_refusal_record(reason="state", channel="web")
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        request = self.request
        if request.GET.get("error"):
            # The person declined at the directory, or the directory refused them.
            accounts.sso_refusal_record(reason="provider_error", channel="web")
        message = getattr(request, REFUSAL_ATTRIBUTE, None) or accounts.SSO_REFUSED
        messages.error(request, message)
        return HttpResponseRedirect(reverse("web:login"))

    def login_success(self) -> HttpResponse:
        request = self.request
        outcome: accounts.SsoSignIn = getattr(request, OUTCOME_ATTRIBUTE)
        user = outcome.user
        target = request.session.pop("oidc_login_next", None) or ""
        if request.user.is_authenticated:
            logout(request)  # whoever was signed in in this browser before
        if _passkey_next(user, directory_mfa=outcome.mfa_by_directory):
            # The same passkey step as after a password: the directory's sign-in is the
            # first factor, the person's passkey the second.
            return passkey_step_start(request, user, target)
        if outcome.needs_code:
            request.session.cycle_key()
            request.session[SSO_PENDING] = {
                "user": user.pk,
                "at": clock.now().timestamp(),
                "next": target,
            }
            return HttpResponseRedirect(reverse("web:login-code"))
        return _open_session(
            request, user, device=None, directory_mfa=outcome.mfa_by_directory, target=target
        )


def _passkey_next(user: User, *, directory_mfa: bool) -> bool:
    """After the directory's sign-in, the passkey step: for a role that requires passkeys
    (the directory's own "mfa" never stands for one), or for someone whose only second
    factor is a passkey, unless the directory's trusted multi-factor sign-in stands for it."""
    if user.role in accounts.passkey_required_roles():
        return True
    if directory_mfa or not accounts.has_passkey(user):
        return False
    return not SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _open_session(
    request: HttpRequest, user: User, *, device: Any, directory_mfa: bool, target: str
) -> HttpResponse:
    login(request, user, backend=ROLE_BACKEND)  # rotates the session key
    if device is not None:
        django_otp.login(request, device)
    if directory_mfa:
        request.session[MFA_BY_DIRECTORY] = True
    request.session[SESSION_STARTED] = clock.now().timestamp()
    if user.needs_two_factor and device is None and not directory_mfa:
        return HttpResponseRedirect(reverse("web:enrol"))
    return HttpResponseRedirect(target or home_url(user))


@require_http_methods(["GET", "POST"])
def login_code_view(request: HttpRequest) -> HttpResponse:
    """The code from the authenticator app, after the directory's sign-in."""
    pending = request.session.get(SSO_PENDING)
    if not isinstance(pending, dict):
        return HttpResponseRedirect(reverse("web:login"))
    error = ""
    status = 200
    if request.method == "POST":
        try:
            checked = accounts.sso_code_verify(
                user_id=int(pending["user"]),
                otp=request.POST.get("otp", "").strip()[:8],
                started_at=float(pending["at"]),
            )
        except DomainError as refused:
            status = refused.status_code
            if refused.code in {"sso_code_expired", "sso_inactive"}:
                request.session.pop(SSO_PENDING, None)
                messages.error(request, refused.message)
                return HttpResponseRedirect(reverse("web:login"))
            error = refused.message
        else:
            request.session.pop(SSO_PENDING, None)
            return _open_session(
                request,
                checked.user,
                device=checked.device,
                directory_mfa=False,
                target=str(pending.get("next") or ""),
            )
    return render(request, "web/login_code.html", {"error": error}, status=status)
