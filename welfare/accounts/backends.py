from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from welfare.core.roles import Role


class RoleBackend(ModelBackend):
    """Roles replace Django's per-model permissions: an active `admin` may use the admin
    site's models (each ModelAdmin still refuses deletes and edits of append-only data)."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if user_obj.is_active and getattr(user_obj, "role", None) == Role.ADMIN:
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if user_obj.is_active and getattr(user_obj, "role", None) == Role.ADMIN:
            return True
        return super().has_module_perms(user_obj, app_label)
