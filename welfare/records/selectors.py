from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from welfare.core.roles import Role
from welfare.records.models import LegalHold


def legal_holds_visible_to(user: Any) -> QuerySet[LegalHold]:
    """Admins only: a hold says litigation is in view, which is nobody else's business."""
    if user.role != Role.ADMIN:
        return LegalHold.objects.none()
    return LegalHold.objects.all()
