"""What every page's header needs: the unread count of the signed-in person's inbox."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from welfare.alerts.models import Notification
from welfare.core.permissions import has_officer_record
from welfare.core.roles import Role
from welfare.web.auth import home_url_of, needs_passkey, needs_second_factor


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

    account_role = getattr(user, "account_role", None) or user.role
    worn = account_role != user.role
    return {
        "signed_in": True,
        "unread_count": unread,
        # One person, two hats: served as an officer, the way back to their role's pages
        # (`role_home`); in their role with an officer record, the way to their own pages.
        "role_home": home_url_of(account_role) if worn else "",
        "role_name": Role(account_role).label if worn else "",
        "own_records": not worn and user.role != Role.OFFICER and has_officer_record(user),
    }
