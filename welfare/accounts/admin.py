from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from welfare.accounts import services
from welfare.accounts.models import GrantKind, GrantState, RoleGrant, User
from welfare.core.admin import ServiceAdmin
from welfare.core.roles import Role

# Device secrets are nobody's business but their owner's; roles replace groups.
for model in (TOTPDevice, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class UserAdminForm(forms.ModelForm):
    new_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password. Never for a clinician: an OH "
        "lead gives a clinician's first password when approving the account, and recovers it.",
    )

    class Meta:
        model = User
        fields = ["username", "role", "email", "is_active"]


@admin.register(User)
class UserAdmin(ServiceAdmin):
    form = UserAdminForm
    list_display = ["username", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username"]
    ordering = ["username"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["username", "clinical_access"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["username", "role", "email", "is_active", "new_password"]
        if obj is not None:
            fields.insert(1, "clinical_access")
            if obj.role == Role.OH:  # a clinician's credentials are an OH lead's to reset
                fields.remove("new_password")
        return fields

    @admin.display(description="Clinical access")
    def clinical_access(self, obj: User) -> str:
        pending = RoleGrant.objects.filter(user=obj, kind=GrantKind.OH, state=GrantState.PENDING)
        if pending.exists():
            return "Awaiting OH lead approval: the role and activation change when a lead approves."
        if obj.role == Role.OH:
            return "Clinician" if obj.is_active else "Clinician (inactive: reopening needs a lead)"
        return "None"

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class ServiceForm(form_class):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                if obj is None and not data.get("new_password") and data.get("role") != Role.OH:
                    self.add_error("new_password", "A new user needs a password.")
                return data

        return ServiceForm

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            changes = {key: data[key] for key in ("role", "email", "is_active") if key in data}
            if data.get("new_password"):
                changes["password"] = data["new_password"]
            saved = services.user_update(actor=request.user, user=obj, changes=changes)  # type: ignore[arg-type]
        else:
            saved = services.user_create(
                actor=request.user,  # type: ignore[arg-type]
                username=data["username"],
                role=data.get("role") or Role.OFFICER,
                password=data.get("new_password") or "",
                email=data.get("email") or "",
                is_active=data.get("is_active", True),
            )
        obj.pk = saved.pk
