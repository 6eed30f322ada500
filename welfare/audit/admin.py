from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from welfare.audit.models import AuditEvent
from welfare.audit.selectors import clinical_events


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only. Clinical events are not listed here."""

    list_display = ["id", "at", "actor", "actor_role", "action", "target_type", "target_id", "ip"]
    list_filter = ["action", "actor_role"]
    search_fields = ["action", "target_type", "target_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        # Clinical events are occupational health's (`rules.admin_view`); this site has no
        # redacted view of them, so it lists none, and its search and filters cannot reach one.
        return super().get_queryset(request).exclude(pk__in=clinical_events().values("pk"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
