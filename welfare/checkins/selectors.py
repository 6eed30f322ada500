from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from welfare.checkins.models import OPEN_STATUSES, CheckIn, Kind
from welfare.core.db import get_or_404
from welfare.core.roles import Role
from welfare.people.selectors import VisibleOfficers, supervised_officer_ids


def checkins_visible_to(user: Any, *, within: VisibleOfficers | None = None) -> QuerySet[CheckIn]:
    """Officers: their own. Supervisors: their units' officers, never self-referrals.
    OH: all. HR and admin: none. `within`: only these officers (already found visible to
    the user), which spares the officers' visibility subquery."""
    checkins = CheckIn.objects.all()
    if within is not None:
        checkins = checkins.filter(officer_id__any=within.ids_for(user))
    if user.role == Role.OH:
        return checkins
    if user.role == Role.SUPERVISOR:
        if within is None:
            checkins = checkins.filter(officer_id__in=supervised_officer_ids(user))
        return checkins.exclude(kind=Kind.SELF_REFERRAL)
    if user.role == Role.OFFICER:
        return checkins.filter(officer__user=user)
    return checkins.none()


def checkin_get_for_user(user: Any, checkin_id: object) -> CheckIn:
    return get_or_404(checkins_visible_to(user), checkin_id)


def open_checkins() -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(status__in=OPEN_STATUSES)


def own_checkins(user: Any) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(officer__user=user).order_by("due_on")
