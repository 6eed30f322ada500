"""Only the support contacts are here: administrators never see a case, note or screening."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from welfare.casework import services
from welfare.casework.models import SupportContact
from welfare.core.admin import ServiceAdmin


@admin.register(SupportContact)
class SupportContactAdmin(ServiceAdmin):
    """Where an officer can get help now. Deactivate a contact rather than delete it; while
    no contact is active, the national lines are shown."""

    list_display = ["name", "how", "hours", "position", "active"]
    list_editable = ["position", "active"]
    fields = ["name", "how", "phone", "hours", "note", "position", "active"]

    def save_model(
        self, request: HttpRequest, obj: SupportContact, form: Any, change: bool
    ) -> None:
        services.support_contact_save(actor=request.user, contact=obj)  # type: ignore[arg-type]
