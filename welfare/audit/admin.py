from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from welfare.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only."""

    list_display = ["id", "at", "actor", "actor_role", "action", "target_type", "target_id", "ip"]
    list_filter = ["action", "actor_role"]
    search_fields = ["action", "target_type", "target_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
