"""Only the schedule's policies are here: administrators never see a person's check-ins."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from welfare.checkins import services
from welfare.checkins.models import CheckinPolicy
from welfare.core.admin import ServiceAdmin


@admin.register(CheckinPolicy)
class CheckinPolicyAdmin(ServiceAdmin):
    """One row per kind of unit (made by migration): changed, never added or deleted."""

    list_display = ["unit_kind", *services.POLICY_FIELDS]
    readonly_fields = ["unit_kind"]
    fields = ["unit_kind", *services.POLICY_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CheckinPolicy, form: Any, change: bool) -> None:
        services.checkin_policy_update(
            actor=request.user,  # type: ignore[arg-type]
            policy=obj,
            changes=dict(form.cleaned_data),
        )
