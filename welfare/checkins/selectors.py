from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Prefetch, QuerySet

from welfare.checkins.models import OPEN_STATUSES, CheckIn, Incident, Kind
from welfare.core import clock
from welfare.core.db import Rows, fetch_rows, get_or_404, grouping_sets
from welfare.core.roles import Role
from welfare.people.selectors import (
    UNIT_ON_DAY,
    VisibleOfficers,
    not_own,
    stat_dimensions,
    supervised_officer_ids,
)


def checkins_visible_to(user: Any, *, within: VisibleOfficers | None = None) -> QuerySet[CheckIn]:
    """Officers: their own. Supervisors: their units' officers, never what is OH's alone
    (self-referrals; check-ins a screening triggered, unless OH released the appointment
    to them, shown then as a welfare appointment without its kind). OH: all. HR and admin:
    none. `within`: only these officers (already found visible to the user), which spares
    the officers' visibility subquery."""
    checkins = CheckIn.objects.all()
    if within is not None:
        checkins = checkins.filter(officer_id__any=within.ids_for(user))
    if user.role == Role.OH:
        return not_own(checkins, user)
    if user.role == Role.SUPERVISOR:
        if within is None:
            checkins = checkins.filter(officer_id__in=supervised_officer_ids(user))
        return checkins.exclude(kind=Kind.SELF_REFERRAL).exclude(
            confidential=True, released_at__isnull=True
        )
    if user.role == Role.OFFICER:
        return checkins.filter(officer__user=user)
    return checkins.none()


def checkin_get_for_user(user: Any, checkin_id: object) -> CheckIn:
    return get_or_404(checkins_visible_to(user), checkin_id)


def open_checkins() -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(status__in=OPEN_STATUSES)


def own_checkins(user: Any) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(officer__user=user).order_by("due_on")


def incidents_visible_to(user: Any) -> QuerySet[Incident]:
    """Officers: their own. Supervisors: their units' officers' (shown without the
    category). OH: all. HR and admin: none. With the follow-ups, earliest first."""
    incidents = Incident.objects.prefetch_related(
        Prefetch("follow_ups", queryset=CheckIn.objects.order_by("due_on", "id"))
    )
    if user.role == Role.OH:
        return not_own(incidents, user)
    if user.role == Role.SUPERVISOR:
        return incidents.filter(officer_id__in=supervised_officer_ids(user))
    if user.role == Role.OFFICER:
        return incidents.filter(officer__user=user)
    return incidents.none()


def incident_get_for_user(user: Any, incident_id: object) -> Incident:
    return get_or_404(incidents_visible_to(user), incident_id)


# --- For statistics ---------------------------------------------------------------------


def checkin_stat_rows(
    dims: Sequence[str], first: date, end: date, *, using: str = DEFAULT_DB_ALIAS
) -> Rows:
    """Check-ins that fell due in each period (due date passed, or done already): completed
    on time (by the due date, in the force's zone), late, overdue, missed; and the on-time
    rate, completed on time over those due, null when none was due (never 0 or 100).
    Self-referrals are occupational health's alone. `using`: the database alias."""
    d = stat_dimensions("c.due_on")
    params = {"first": first, "end": end, "today": clock.today(), "tz": str(clock.local_zone())}
    on_time = (
        "c.completed_at IS NOT NULL AND (c.completed_at AT TIME ZONE %(tz)s)::date <= c.due_on"
    )
    late = "c.completed_at IS NOT NULL AND (c.completed_at AT TIME ZONE %(tz)s)::date > c.due_on"
    return fetch_rows(
        f"""
        SELECT {", ".join(f"{d[x]} AS {x}" for x in dims)},
               COUNT(DISTINCT c.officer_id) AS people, COUNT(*) AS due,
               COUNT(*) FILTER (WHERE {on_time}) AS completed_on_time,
               COUNT(*) FILTER (WHERE {late}) AS completed_late,
               COUNT(*) FILTER (WHERE c.status = 'overdue') AS overdue,
               COUNT(*) FILTER (WHERE c.status = 'missed') AS missed,
               100.0 * COUNT(*) FILTER (WHERE {on_time}) / NULLIF(COUNT(*), 0) AS on_time_pct
        FROM checkins_checkin c {UNIT_ON_DAY.format(alias="c", day="c.due_on")}
        WHERE c.due_on >= %(first)s AND c.due_on < %(end)s
          AND (c.due_on < %(today)s OR c.completed_at IS NOT NULL)
          AND c.kind <> 'self_referral' AND c.status <> 'cancelled'
        GROUP BY {grouping_sets([d[x] for x in dims])}
        """,  # noqa: S608
        params,
        using=using,
    )
