"""Passkeys (WebAuthn) in the web app: the log-in's second step after the password, and
the page where a person adds, names and removes their own.

The browser side is django-otp-webauthn's own scripts, served as static files (the page
policy allows no inline script): they read their addresses from a JSON data block and
POST to the small JSON views here. The cryptography is the library's `WebAuthnHelper`;
what is allowed, and the audit, is `welfare.accounts.services`.
"""

from __future__ import annotations

import json
from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware import csrf
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.utils import rewrite_exceptions
from webauthn.helpers.exceptions import WebAuthnException

from welfare.accounts import services as accounts
from welfare.accounts.models import User
from welfare.core import clock
from welfare.core.errors import DomainError, NotFound
from welfare.web.auth import (
    SESSION_STARTED,
    home_url,
    me,
    needs_passkey,
    session_expired,
    verified_with,
)

# The log-in's pending second step: whose password was right, until when, and where to go.
PENDING_USER = "welfare_passkey_user"
PENDING_UNTIL = "welfare_passkey_until"
PENDING_NEXT = "welfare_passkey_next"
# The ceremonies' challenges, each used once.
AUTH_STATE = "welfare_passkey_auth_state"
REGISTER_STATE = "welfare_passkey_register_state"

STEP_EXPIRED = "Your sign-in took too long. Enter your user name and password again."
NOT_SIGNED_IN = "Sign in first."
BAD_REQUEST = "The browser's answer could not be read. Try again."


def _json_error(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message, "code": code}, status=status)


def _config(request: HttpRequest, **urls: str) -> dict[str, Any]:
    """What the library's scripts read from the `otp_webauthn_config` data block."""
    return {
        "autocompleteLoginFieldSelector": None,  # no passwordless sign-in
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": urls.get("begin_auth", ""),
        "completeAuthenticationUrl": urls.get("complete_auth", ""),
        "beginRegistrationUrl": urls.get("begin_register", ""),
        "completeRegistrationUrl": urls.get("complete_register", ""),
    }


def _helper(request: HttpRequest) -> Any:
    return WebAuthnCredential.get_webauthn_helper(request=request)


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


# --- The log-in's second step ------------------------------------------------------------


def passkey_step_start(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """The password was right and the person has a passkey: nobody is signed in yet; the
    session (a new key) remembers whose passkey to ask for, for a few minutes."""
    if request.user.is_authenticated:
        logout(request)
    request.session.cycle_key()
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_UNTIL] = clock.now().timestamp() + settings.OTP_WEBAUTHN_TIMEOUT_SECONDS
    request.session[PENDING_NEXT] = next_url
    return HttpResponseRedirect(reverse("web:login-passkey"))


def _pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(PENDING_USER)
    until = request.session.get(PENDING_UNTIL)
    if user_id is None or until is None or clock.now().timestamp() >= float(until):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def _forget_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_UNTIL, PENDING_NEXT, AUTH_STATE):
        request.session.pop(key, None)


@never_cache
@require_GET
def login_passkey(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        _forget_pending(request)
        messages.error(request, STEP_EXPIRED)
        return HttpResponseRedirect(reverse("web:login"))
    config = _config(
        request,
        begin_auth=reverse("web:login-passkey-begin"),
        complete_auth=reverse("web:login-passkey-complete"),
    )
    return render(request, "web/login_passkey.html", {"config": config})


@never_cache
@require_POST
def login_passkey_begin(request: HttpRequest) -> JsonResponse:
    user = _pending_user(request)
    if user is None:
        return _json_error(STEP_EXPIRED, "expired", 401)
    options, state = _helper(request).authenticate_begin(user=user, require_user_verification=False)
    request.session[AUTH_STATE] = state
    return JsonResponse(options)


@never_cache
@require_POST
def login_passkey_complete(request: HttpRequest) -> JsonResponse:
    user = _pending_user(request)
    # The challenge is used once: popped here, and the session is saved with every answer
    # below (each one is a 4xx or a 200, never an error page).
    state = request.session.pop(AUTH_STATE, None)
    if user is None:
        return _json_error(STEP_EXPIRED, "expired", 401)
    data = _body(request)
    if state is None or not isinstance(data, dict):
        return _json_error(BAD_REQUEST, "invalid", 400)
    try:
        user, passkey = accounts.passkey_sign_in(
            user_id=user.pk, helper=_helper(request), state=state, data=data
        )
    except DomainError as refused:
        return _json_error(refused.message, refused.code, refused.status_code)
    next_url = str(request.session.get(PENDING_NEXT) or "")
    _forget_pending(request)
    login(request, user, backend="welfare.accounts.backends.RoleBackend")  # rotates the key
    django_otp.login(request, passkey)
    request.session[SESSION_STARTED] = clock.now().timestamp()
    return JsonResponse({"id": passkey.pk, "redirect_url": next_url or home_url(user)})


# --- One's own passkeys -----------------------------------------------------------------------


def _signed_in_and_verified(request: HttpRequest) -> HttpResponse | None:
    """Passkeys are managed in a session verified with a second factor (a code will do: it is
    the bridge to a first passkey); otherwise the log-in or enrolment page."""
    user = request.user
    if not user.is_authenticated or not user.is_active or session_expired(request):
        if user.is_authenticated:
            logout(request)
        return HttpResponseRedirect(f"{reverse('web:login')}?next={reverse('web:passkeys')}")
    if verified_with(request) is None:
        return HttpResponseRedirect(reverse("web:enrol"))
    return None


@never_cache
@require_GET
def passkeys_page(request: HttpRequest) -> HttpResponse:
    refused = _signed_in_and_verified(request)
    if refused is not None:
        return refused
    config = _config(
        request,
        begin_register=reverse("web:passkeys-register-begin"),
        complete_register=reverse("web:passkeys-register-complete"),
    )
    context = {
        "config": config,
        "passkeys": list(accounts.passkeys_of(me(request))),
        "must_add": needs_passkey(request),
        "required": me(request).role in accounts.passkey_required_roles(),
    }
    return render(request, "web/passkeys.html", context)


@never_cache
@require_POST
def passkeys_register_begin(request: HttpRequest) -> JsonResponse:
    if _signed_in_and_verified(request) is not None:
        return _json_error(NOT_SIGNED_IN, "not_authenticated", 403)
    options, state = _helper(request).register_begin(user=me(request))
    request.session[REGISTER_STATE] = state
    return JsonResponse(options)


@never_cache
@require_POST
def passkeys_register_complete(request: HttpRequest) -> JsonResponse:
    state = request.session.pop(REGISTER_STATE, None)  # used once, as above
    if _signed_in_and_verified(request) is not None:
        return _json_error(NOT_SIGNED_IN, "not_authenticated", 403)
    data = _body(request)
    if state is None or not isinstance(data, dict):
        return _json_error(BAD_REQUEST, "invalid", 400)
    try:
        with rewrite_exceptions():
            passkey = accounts.passkey_add(
                user=me(request),
                verified_with=verified_with(request),
                helper=_helper(request),
                state=state,
                data=data,
            )
    except OTPWebAuthnApiError as refused:
        return _json_error(str(refused), refused.code, refused.status_code)
    except (WebAuthnException, KeyError, ValueError):
        return _json_error(BAD_REQUEST, "invalid", 400)
    except DomainError as refused:
        return _json_error(refused.message, refused.code, refused.status_code)
    if needs_passkey(request):
        # The code was the bridge: the session now counts as verified with the passkey just
        # made (by an authenticator in the person's hands, in a session of theirs).
        request.session.cycle_key()
        django_otp.login(request, passkey)
    messages.success(request, f"Your passkey is added as “{passkey.name}”.")
    return JsonResponse({"id": passkey.pk, "redirect_url": reverse("web:passkeys")})


@require_POST
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    refused = _signed_in_and_verified(request)
    if refused is not None:
        return refused
    try:
        accounts.passkey_remove(
            user=me(request), passkey_id=passkey_id, verified_with=verified_with(request)
        )
    except NotFound:
        return render(request, "web/error.html", {"title": "Not found", "status": 404}, status=404)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, "The passkey is removed.")
    return HttpResponseRedirect(reverse("web:passkeys"))


@require_POST
def passkey_rename(request: HttpRequest, passkey_id: int) -> HttpResponse:
    refused = _signed_in_and_verified(request)
    if refused is not None:
        return refused
    try:
        accounts.passkey_rename(
            user=me(request), passkey_id=passkey_id, name=request.POST.get("name", "")[:200]
        )
    except NotFound:
        return render(request, "web/error.html", {"title": "Not found", "status": 404}, status=404)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, "The passkey's name is saved.")
    return HttpResponseRedirect(reverse("web:passkeys"))
