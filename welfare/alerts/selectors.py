from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from welfare.alerts.models import (
    SUPERVISOR_KINDS,
    Alert,
    AlertStatus,
    Notification,
    UnitWebhook,
)
from welfare.checkins.models import OPEN_STATUSES, WELFARE_APPOINTMENT, CheckIn
from welfare.checkins.selectors import checkins_visible_to
from welfare.core import clock
from welfare.core.db import Rows, fetch_rows, get_or_404, grouping_sets
from welfare.core.roles import Role
from welfare.exposure.rules import LimitState
from welfare.exposure.selectors import limit_states
from welfare.people.models import Posting, RotationReview, Unit
from welfare.people.selectors import (
    UNIT_ON_DAY,
    VisibleOfficers,
    current_posting_q,
    not_own,
    stat_dimensions,
    supervised_officer_ids,
    visible_officers,
)


def alerts_visible_to(user: Any, *, within: VisibleOfficers | None = None) -> QuerySet[Alert]:
    """Officers: their own, except clinical ones (they are occupational health's work items:
    the officer hears from OH, not from a list). Supervisors: their units' limit, rotation and
    overdue alerts, never clinical ones. OH: all. HR and admin: none. `within`: only these
    officers (already found visible to the user), which spares the visibility subquery."""
    alerts = Alert.objects.all()
    if within is not None:
        alerts = alerts.filter(officer_id__any=within.ids_for(user))
    if user.role == Role.OH:
        return not_own(alerts, user)
    if user.role == Role.SUPERVISOR:
        if within is None:
            alerts = alerts.filter(officer_id__in=supervised_officer_ids(user))
        return alerts.filter(kind__in=SUPERVISOR_KINDS, clinical=False)
    if user.role == Role.OFFICER:
        return alerts.filter(officer__user=user, clinical=False)
    return alerts.none()


@dataclass(frozen=True)
class OfficerAlerts:
    """One officer's alerts in a list grouped by officer, with counts."""

    officer_id: int
    open: int
    acknowledged: int
    resolved: int
    latest_raised_at: Any
    alerts: list[Alert]


def unresolved_alert_counts(user: Any) -> dict[int, int]:
    """How many alerts the caller may open are not resolved, per officer."""
    return dict(
        alerts_visible_to(user)
        .exclude(status=AlertStatus.RESOLVED)
        .order_by()
        .values("officer_id")
        .annotate(n=Count("id"))
        .values_list("officer_id", "n")
    )


def alerts_by_officer(alerts: QuerySet[Alert], *, per_officer: int = 20) -> list[OfficerAlerts]:
    """Alerts (already filtered and scoped) grouped by officer: those with the most open
    first, then by the latest raised; each group's counts and its latest alerts. Two
    queries whatever the number of alerts."""
    counts = (
        alerts.order_by()
        .values("officer_id")
        .annotate(
            open=Count("id", filter=Q(status=AlertStatus.OPEN)),
            acknowledged=Count("id", filter=Q(status=AlertStatus.ACKNOWLEDGED)),
            resolved=Count("id", filter=Q(status=AlertStatus.RESOLVED)),
            latest=Max("raised_at"),
        )
    )
    rows = sorted(counts, key=lambda r: (-r["open"], -r["acknowledged"], -r["latest"].timestamp()))
    latest = (
        alerts.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("officer_id")],
                order_by=[F("raised_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=per_officer)
        .order_by("officer_id", "-raised_at", "-id")
    )
    grouped: dict[int, list[Alert]] = {}
    for alert in latest:
        grouped.setdefault(alert.officer_id, []).append(alert)
    return [
        OfficerAlerts(
            officer_id=row["officer_id"],
            open=row["open"],
            acknowledged=row["acknowledged"],
            resolved=row["resolved"],
            latest_raised_at=row["latest"],
            alerts=grouped.get(row["officer_id"], []),
        )
        for row in rows
    ]


def alert_get_for_user(user: Any, alert_id: object) -> Alert:
    return get_or_404(alerts_visible_to(user), alert_id)


def notifications_of(user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user)


def rotation_reviews_visible_to(user: Any) -> QuerySet[RotationReview]:
    reviews = RotationReview.objects.select_related("posting")
    if user.role == Role.OH:
        return not_own(reviews, user, field="posting__officer")
    if user.role == Role.SUPERVISOR:
        return not_own(
            reviews.filter(posting__unit__supervisors=user), user, field="posting__officer"
        )
    return reviews.none()


def webhooks_visible_to(user: Any) -> QuerySet[UnitWebhook]:
    webhooks = UnitWebhook.objects.order_by("unit_id")
    return webhooks if user.role == Role.ADMIN else webhooks.none()


# --- A unit's team at a glance -----------------------------------------------------------


@dataclass(frozen=True)
class TeamMember:
    officer: int
    display_name: str
    staff_number: str
    posted_since: date
    day_minutes: float
    week_minutes: float
    rolling_28d_minutes: float
    week_index: float
    warnings: list[str]
    breaches: list[str]
    next_checkin: TeamCheckin | None
    open_alerts: int


@dataclass(frozen=True)
class TeamCheckin:
    """An officer's next check-in as the caller may see it: for a supervisor, one that is
    OH's alone (released to them) is a welfare appointment, without its kind."""

    id: int
    kind: str
    due_on: date
    status: str
    booked_for: Any

    @classmethod
    def shown_to(cls, user: Any, checkin: CheckIn) -> TeamCheckin:
        kind = checkin.kind
        if checkin.confidential and user.role == Role.SUPERVISOR:
            kind = WELFARE_APPOINTMENT
        return cls(checkin.pk, kind, checkin.due_on, checkin.status, checkin.booked_for)


@dataclass(frozen=True)
class TeamSummary:
    unit: Unit
    on: date
    members: list[TeamMember]


def team_summary(user: Any, unit: Unit, *, on: date) -> TeamSummary:
    """Each officer posted to the unit on `on` (never the caller: nobody supervises
    themselves): exposure against limits, the next open
    check-in (dates and status only; never a self-referral for a supervisor) and how many
    alerts the caller could open. A fixed number of queries, whatever the team's size."""
    postings = list(
        not_own(Posting.objects.filter(current_posting_q(on), unit=unit), user)
        .select_related("officer")
        .order_by("officer__display_name", "officer_id")
    )
    ids = [p.officer_id for p in postings]
    states = limit_states({officer_id: [on] for officer_id in ids})
    visible = visible_officers(user, ids)
    next_checkins: dict[int, TeamCheckin] = {}
    for checkin in (
        checkins_visible_to(user, within=visible)
        .filter(status__in=OPEN_STATUSES)
        .order_by("officer_id", "due_on", "id")
        .distinct("officer_id")
    ):
        next_checkins[checkin.officer_id] = TeamCheckin.shown_to(user, checkin)
    open_alerts = dict(
        alerts_visible_to(user, within=visible)
        .exclude(status=AlertStatus.RESOLVED)
        .values("officer_id")
        .annotate(n=Count("id"))
        .values_list("officer_id", "n")
    )
    members = []
    for posting in postings:
        limits = {s.rule: s for s in states.get((posting.officer_id, on), [])}

        def used(rule: str, limits: dict[str, LimitState] = limits) -> float:
            return limits[rule].used if rule in limits else 0.0

        members.append(
            TeamMember(
                officer=posting.officer_id,
                display_name=posting.officer.display_name,
                staff_number=posting.officer.staff_number,
                posted_since=posting.started_on,
                day_minutes=used("daily_minutes"),
                week_minutes=used("week_minutes"),
                rolling_28d_minutes=used("rolling_28d_minutes"),
                week_index=used("week_index"),
                warnings=sorted(r for r, s in limits.items() if s.state == "warning"),
                breaches=sorted(r for r, s in limits.items() if s.state == "breach"),
                next_checkin=next_checkins.get(posting.officer_id),
                open_alerts=open_alerts.get(posting.officer_id, 0),
            )
        )
    return TeamSummary(unit=unit, on=on, members=members)


# --- For statistics ---------------------------------------------------------------------


def alert_stat_rows(
    dims: Sequence[str], first: date, end: date, *, using: str = DEFAULT_DB_ALIAS
) -> Rows:
    """Alerts raised, acknowledged within 48 hours, and resolved. Clinical alerts are left out.
    `using`: the database alias (the statistics' `reporting_alias()`)."""
    day = "(a.raised_at AT TIME ZONE %(tz)s)::date"
    d = {**stat_dimensions(day), "kind": "a.kind"}
    params = {"first": first, "end": end, "tz": str(clock.local_zone())}
    return fetch_rows(
        f"""
        SELECT {", ".join(f"{d[x]} AS {x}" for x in dims)},
               COUNT(DISTINCT a.officer_id) AS people, COUNT(*) AS raised,
               COUNT(*) FILTER (WHERE a.acknowledged_at <= a.raised_at + interval '48 hours')
                   AS acknowledged_within_48h,
               COUNT(*) FILTER (WHERE a.status = 'resolved') AS resolved
        FROM alerts_alert a {UNIT_ON_DAY.format(alias="a", day=day)}
        WHERE {day} >= %(first)s AND {day} < %(end)s
          AND NOT a.clinical AND a.kind <> 'screening_risk'
        GROUP BY {grouping_sets([d[x] for x in dims])}
        """,  # noqa: S608
        params,
        using=using,
    )
