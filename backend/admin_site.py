"""Django admin for administrators only, behind the same password, two-factor and lock-out
rules as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django_otp.admin import OTPAdminSite

from welfare.core.errors import DomainError
from welfare.core.roles import Role

ADMIN_LOGIN_REFUSED = (
    "Log-in refused. Administrators sign in with user name, password and a code from their "
    "authenticator app."
)


class AdminLoginForm(AdminAuthenticationForm):
    otp_token = forms.RegexField(
        r"^\d{6,8}$",
        label="Authenticator code",
        required=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        from welfare.accounts.services import authenticate_credentials

        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        otp = self.cleaned_data.get("otp_token") or ""
        if not username or not password or not otp:
            raise forms.ValidationError(ADMIN_LOGIN_REFUSED, code="invalid_login")
        try:
            checked = authenticate_credentials(username=username, password=password, otp=otp)
        except DomainError as exc:
            raise forms.ValidationError(
                exc.message or ADMIN_LOGIN_REFUSED, code="invalid_login"
            ) from exc
        user = checked.user
        if checked.device is None or user.role != Role.ADMIN or not user.is_staff:
            raise forms.ValidationError(ADMIN_LOGIN_REFUSED, code="invalid_login")
        user.otp_device = checked.device  # type: ignore[attr-defined]
        # Checked by the service above, not by a backend: the session's backend is named
        # (single sign-on adds a second one, and login() must then be told which).
        user.backend = "welfare.accounts.backends.RoleBackend"  # type: ignore[attr-defined]
        self.user_cache = user
        return self.cleaned_data


class WelfareAdminSite(OTPAdminSite):
    site_header = "Welfare service administration"
    site_title = "Welfare admin"
    index_title = "Units, people and postings"
    login_form = AdminLoginForm
    login_template = "admin/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        from welfare.accounts.services import second_factor_complete

        user = request.user
        return bool(
            super().has_permission(request)
            and getattr(user, "role", None) == Role.ADMIN
            # Where administrators need a passkey, a code (the bridge to one) opens nothing.
            and second_factor_complete(user=user, device=getattr(user, "otp_device", None))
        )

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The admin site's log-in starts the session's lifetime as the web app's does, so the
        web app's pages (passkeys, inbox) open from it instead of signing the person out."""
        from welfare.core import clock
        from welfare.web.auth import SESSION_STARTED

        response = super().login(request, extra_context)
        if request.method == "POST" and request.user.is_authenticated:
            request.session.setdefault(SESSION_STARTED, clock.now().timestamp())
        return response

    def get_urls(self) -> list[URLPattern]:
        from welfare.people.admin import people_import_view

        # Before the site's own patterns: "people/<model>/" would not match it, but the
        # final catch-all would.
        extra = [path("people/import/", self.admin_view(people_import_view), name="people-import")]
        return [*extra, *super().get_urls()]
