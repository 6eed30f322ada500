"""What every page's header needs: the unread count of the signed-in person's inbox."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from welfare.alerts.models import Notification
from welfare.web.auth import needs_passkey, needs_second_factor


def header(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or needs_second_factor(request)
        or needs_passkey(request)
    ):
        return {"signed_in": False}

    def unread() -> int:  # counted only where a page shows it
        return Notification.objects.filter(recipient=user, read_at__isnull=True).count()

    return {"signed_in": True, "unread_count": unread}
