"""Session log-in for the web app: the same password, code and lock-out rules as the API,
the same idle timeout and absolute lifetime, the session key rotated at each step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from welfare.accounts.services import second_factor_complete, second_factor_of
from welfare.core import clock
from welfare.core.errors import Forbidden, NotFound
from welfare.core.permissions import hat_for, wearing
from welfare.core.roles import TWO_FACTOR_ROLES, Role

if TYPE_CHECKING:
    from welfare.accounts.models import User

SESSION_STARTED = "welfare_started_at"
# The hat the person last chose by opening a page that serves only one of theirs: the pages
# that serve both (a check-in, an alert) serve them in it.
SESSION_HAT = "welfare_hat"
# Set when the force's directory's multi-factor sign-in stands for the second factor
# (single sign-on with OIDC_TRUST_IDP_MFA).
MFA_BY_DIRECTORY = "welfare_mfa_by_directory"
HOMES = {
    Role.OFFICER: "web:officer-home",
    Role.SUPERVISOR: "web:supervisor-home",
    Role.OH: "web:oh-home",
    Role.HR: "web:hr-home",
    Role.ADMIN: "admin:index",
}


def me(request: HttpRequest) -> User:
    """The signed-in user of a request that passed `page`."""
    return cast("User", request.user)


def home_url(user: Any) -> str:
    return home_url_of(str(getattr(user, "role", "")))


def home_url_of(role: str) -> str:
    return reverse(HOMES[Role(role)] if role in Role.values else "web:login")


def session_expired(request: HttpRequest) -> bool:
    started = request.session.get(SESSION_STARTED)
    if started is None:
        return True
    age = clock.now().timestamp() - float(started)
    return age >= settings.TOKEN_ABSOLUTE_SECONDS


def is_verified(request: HttpRequest) -> bool:
    """A code or passkey from the person's own device this session."""
    return bool(getattr(request.user, "is_verified", lambda: False)())


def account_role(request: HttpRequest) -> str | None:
    """The role of the account, whatever hat the person is served in."""
    user = request.user
    return getattr(user, "account_role", None) or getattr(user, "role", None)


def second_factor_verified(request: HttpRequest) -> bool:
    """A code or passkey from the person's device this session, or the directory's trusted
    multi-factor sign-in: never for a role that requires a passkey (the directory's "mfa"
    does not say it resisted phishing)."""
    # Switching the trust off takes effect at once, for sessions already open too.
    by_directory = (
        settings.OIDC_TRUST_IDP_MFA
        and bool(request.session.get(MFA_BY_DIRECTORY))
        and account_role(request) not in settings.PASSKEY_REQUIRED_ROLES
    )
    return is_verified(request) or by_directory


def needs_second_factor(request: HttpRequest) -> bool:
    """By the account's role, whatever hat the person is served in."""
    return account_role(request) in TWO_FACTOR_ROLES and not second_factor_verified(request)


def serve_in_hat(request: HttpRequest, allowed: frozenset[str]) -> bool:
    """Serve the request in the person's hat for a page serving `allowed` (their role, or
    their officer hat; see welfare.core.rules.serving_hat); False when it serves neither."""
    user = request.user
    role = str(getattr(user, "role", ""))
    both = role in allowed and Role.OFFICER in allowed and role != Role.OFFICER
    asked = request.session.get(SESSION_HAT) if both else None
    hat = (asked and hat_for(user, allowed, asked)) or hat_for(user, allowed, None)
    if hat is None:
        return False
    if not both and role != Role.OFFICER:
        request.session[SESSION_HAT] = hat
    if hat != role:
        request.user = wearing(user, hat)
    return True


def verified_with(request: HttpRequest) -> str | None:
    """The second factor this session was verified with: `totp`, `passkey` or None."""
    if not is_verified(request):
        return None
    return second_factor_of(getattr(request.user, "otp_device", None))


def needs_passkey(request: HttpRequest) -> bool:
    """Verified, but with a code where the role requires a passkey (PASSKEY_REQUIRED_ROLES):
    the code was the bridge to enrolling one, and reaches nothing else."""
    if not is_verified(request):
        return False
    device = getattr(request.user, "otp_device", None)
    return not second_factor_complete(user=request.user, device=device)


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def page(
    roles: Iterable[str],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Deny by default: signed in, session still within its lifetime, a verified second
    factor for the roles that need one (a passkey where PASSKEY_REQUIRED_ROLES says), a
    password of one's own (not an OH lead's temporary one), and one of `roles`; otherwise
    the log-in, enrolment, passkey or password page, or a 403."""
    allowed = frozenset(roles)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated or not user.is_active or session_expired(request):
                if user.is_authenticated:
                    logout(request)
                return HttpResponseRedirect(f"{reverse('web:login')}?next={request.path}")
            if needs_second_factor(request):
                return HttpResponseRedirect(reverse("web:enrol"))
            if needs_passkey(request):
                return HttpResponseRedirect(reverse("web:passkeys"))
            if getattr(user, "password_must_change", False):
                return HttpResponseRedirect(reverse("web:password"))
            if not serve_in_hat(request, allowed):
                return render(
                    request,
                    "web/error.html",
                    {"title": "Not for your role", "status": 403},
                    status=403,
                )
            try:
                return view(request, *args, **kwargs)
            except (NotFound, Http404):
                # "Not found" and "not yours" look the same, as in the API.
                context = {"title": "Not found", "status": 404}
                return render(request, "web/error.html", context, status=404)
            except Forbidden as refused:
                context = {"title": refused.message, "status": 403}
                return render(request, "web/error.html", context, status=403)

        return wrapper

    return decorator
