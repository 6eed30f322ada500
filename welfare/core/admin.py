from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from welfare.core.errors import DomainError


class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saves go through the domain services (validation and audit); a refusal is shown as a
    message and nothing is written."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            with transaction.atomic():
                return super().changeform_view(request, *args, **kwargs)
        except DomainError as error:
            detail = "; ".join(
                f"{field}: {' '.join(text)}" if isinstance(text, list) else str(text)
                for field, text in error.body().items()
            )
            self.message_user(request, f"Not saved. {detail}", level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Related rows were written by the service already."""
