"""Only policies are here: administrators never see a person's sessions or restrictions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from welfare.core.admin import ServiceAdmin
from welfare.core.errors import DomainError
from welfare.exposure import services
from welfare.exposure.models import ExposurePolicy


@admin.register(ExposurePolicy)
class ExposurePolicyAdmin(ServiceAdmin):
    list_display = ["__str__", "daily_minutes", "week_minutes", "rolling_28d_minutes", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["unit", *services.POLICY_FIELDS]
        if obj is not None and obj.unit_id is not None:
            fields.remove("weights")
        return fields

    def save_model(
        self, request: HttpRequest, obj: ExposurePolicy, form: Any, change: bool
    ) -> None:
        data = dict(form.cleaned_data)
        if change:
            data.pop("unit", None)
            services.policy_update(actor=request.user, policy=obj, changes=data)  # type: ignore[arg-type]
            return
        unit = data.pop("unit", None)
        if unit is None:
            raise DomainError(services.FORCE_POLICY_EXISTS, field="unit")
        saved = services.policy_create_for_unit(actor=request.user, unit=unit, values=data)  # type: ignore[arg-type]
        obj.pk = saved.pk
