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

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        """The list's editable cells name their row and column for screen readers (the
        admin gives them no label of their own)."""
        base = super().get_changelist_form(request, **kwargs)

        class Labelled(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                name = self.instance.name if self.instance.pk else "new contact"
                for field_name, field in self.fields.items():
                    label = field.label or field_name
                    field.widget.attrs["aria-label"] = f"{label}: {name}"

        return Labelled

    def save_model(
        self, request: HttpRequest, obj: SupportContact, form: Any, change: bool
    ) -> None:
        services.support_contact_save(actor=request.user, contact=obj)  # type: ignore[arg-type]
