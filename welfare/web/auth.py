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


def second_factor_verified(request: HttpRequest) -> bool:
    """A code from the person's device this session, or the directory's trusted
    multi-factor sign-in."""
    verified = bool(getattr(request.user, "is_verified", lambda: False)())
    # Switching the trust off takes effect at once, for sessions already open too.
    by_directory = settings.OIDC_TRUST_IDP_MFA and bool(request.session.get(MFA_BY_DIRECTORY))
    return verified or by_directory


def needs_second_factor(request: HttpRequest) -> bool:
    """By the account's role, whatever hat the person is served in."""
    user = request.user
    role = getattr(user, "account_role", None) or getattr(user, "role", None)
    return role in TWO_FACTOR_ROLES and not second_factor_verified(request)


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
    """Deny by default: signed in, session still within its lifetime, a verified second factor
    for the roles that need one, a password of one's own (not an OH lead's temporary one),
    and one of `roles`; otherwise the log-in, enrolment or password page, or a 403."""
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
