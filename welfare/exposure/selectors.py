from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from welfare.core import clock
from welfare.core.errors import NotFound
from welfare.core.roles import Role
from welfare.exposure import rules
from welfare.exposure.models import (
    DailyTotal,
    ExposurePolicy,
    ExposureSession,
    Restriction,
    SessionState,
)
from welfare.exposure.services import force_policy
from welfare.people.models import Officer
from welfare.people.selectors import officers_visible_to, unit_of_officer_on

EXPOSURE_READERS = {Role.OFFICER, Role.SUPERVISOR, Role.OH}


def exposures_visible_to(user: Any, *, include: Iterable[str] = ()) -> QuerySet[ExposureSession]:
    """Sessions of the officers the caller may see; current, non-void versions unless asked.

    `include`: "void" adds voided sessions, "superseded" adds every earlier version too.
    HR and admin never see a person's sessions.
    """
    if user.role not in EXPOSURE_READERS:
        return ExposureSession.objects.none()
    sessions = ExposureSession.objects.filter(officer__in=officers_visible_to(user).values("pk"))
    wanted = set(include)
    if "superseded" in wanted:
        return sessions
    states = [SessionState.CURRENT] + ([SessionState.VOID] if "void" in wanted else [])
    return sessions.filter(state__in=states)


def exposure_get_for_user(user: Any, session_id: object) -> ExposureSession:
    try:
        return (
            exposures_visible_to(user, include=("superseded",))
            .select_related("officer")
            .get(pk=int(str(session_id)))
        )
    except (ExposureSession.DoesNotExist, ValueError) as exc:
        raise NotFound() from exc


def histories_of(sessions: Iterable[ExposureSession]) -> dict[Any, list[ExposureSession]]:
    """Every version of each session's lineage, oldest first, in one query."""
    lineages = {session.lineage for session in sessions}
    grouped: dict[Any, list[ExposureSession]] = defaultdict(list)
    if lineages:
        for version in ExposureSession.objects.filter(lineage__in=lineages).order_by(
            "lineage", "version"
        ):
            grouped[version.lineage].append(version)
    return grouped


def _layer(policy: ExposurePolicy | None) -> rules.PolicyLayer | None:
    if policy is None:
        return None
    return rules.PolicyLayer(**{name: getattr(policy, name) for name in rules.LIMIT_FIELDS})


def restrictions_in_force(officer_id: int, on: date) -> QuerySet[Restriction]:
    return Restriction.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=on),
        officer_id=officer_id,
        starts_on__lte=on,
        lifted_at__isnull=True,
    )


def effective_policy_for(officer_id: int, on: date) -> rules.Policy:
    unit_id = unit_of_officer_on(officer_id, on)
    unit_policy = ExposurePolicy.objects.filter(unit_id=unit_id).first() if unit_id else None
    force = _layer(force_policy())
    assert force is not None
    restrictions = [
        rules.RestrictionLayer(
            id=r.pk,
            daily_minutes=r.daily_minutes,
            week_minutes=r.week_minutes,
            forbidden_media=frozenset(r.forbidden_media),
        )
        for r in restrictions_in_force(officer_id, on)
    ]
    return rules.effective_policy(force, _layer(unit_policy), restrictions)


def day_totals(officer_id: int, first: date, last: date) -> dict[date, rules.DayTotal]:
    rows = DailyTotal.objects.filter(officer_id=officer_id, day__gte=first, day__lte=last)
    return {
        row.day: rules.DayTotal(
            day=row.day,
            seconds=row.seconds,
            weighted_seconds=row.weighted_seconds,
            first_start=row.first_start,
            last_end=row.last_end,
        )
        for row in rows
    }


def spans_on(officer_id: int, day: date) -> list[rules.Span]:
    """The officer's current sessions on a local day, clipped to the day."""
    zone = clock.local_zone()
    lo = rules.local_midnight(day, zone)
    hi = rules.local_midnight(day + timedelta(days=1), zone)
    sessions = ExposureSession.objects.filter(
        officer_id=officer_id, state=SessionState.CURRENT, started_at__lt=hi, ended_at__gt=lo
    ).values_list("started_at", "ended_at", "material")
    return [rules.Span(max(start, lo), min(end, hi), material) for start, end, material in sessions]


@dataclass(frozen=True)
class ExposureSummary:
    officer: int
    on: date
    day_minutes: float
    week_minutes: float
    rolling_28d_minutes: float
    weighted_index: float
    week_index: float
    rolling_28d_index: float
    limits: list[rules.LimitState]
    breaches: list[rules.LimitState]
    next_break_due_at: datetime | None


def exposure_summary(
    officer: Officer, *, on: date, running_since: datetime | None = None
) -> ExposureSummary:
    """Totals for the day, rolling 7 and 28 days, and every limit's state, read from daily
    totals (never the whole session history). `running_since` is a session in progress."""
    days = day_totals(officer.pk, on - timedelta(days=27), on)
    policy = effective_policy_for(officer.pk, on)
    spans = spans_on(officer.pk, on)
    now = clock.now()
    zone = clock.local_zone()
    if running_since is not None and running_since < now and now.astimezone(zone).date() == on:
        spans = rules.with_running(spans, running_since, now)
        extra = (now - max(running_since, rules.local_midnight(on, zone))).total_seconds()
        today = days.get(on) or rules.DayTotal(day=on, seconds=0, weighted_seconds=0)
        days[on] = rules.DayTotal(
            day=on,
            seconds=today.seconds + extra,
            weighted_seconds=today.weighted_seconds + extra,
            first_start=today.first_start,
            last_end=now,
        )
    states = rules.evaluate(on=on, days=days, spans_on_day=spans, policy=policy, tz=zone)

    def minutes(length: int, attr: str) -> float:
        return round(rules.window_sum(days, on, length, attr) / 60, 2)

    return ExposureSummary(
        officer=officer.pk,
        on=on,
        day_minutes=minutes(1, "seconds"),
        week_minutes=minutes(7, "seconds"),
        rolling_28d_minutes=minutes(28, "seconds"),
        weighted_index=minutes(1, "weighted_seconds"),
        week_index=minutes(7, "weighted_seconds"),
        rolling_28d_index=minutes(28, "weighted_seconds"),
        limits=states,
        breaches=rules.breaches(states),
        next_break_due_at=(
            rules.next_break_due_at(spans_on(officer.pk, on), running_since, policy)
            if running_since is not None
            else None
        ),
    )


def policies_visible_to(user: Any) -> QuerySet[ExposurePolicy]:
    if user.role in (Role.ADMIN, Role.OH):
        return ExposurePolicy.objects.select_related("unit").order_by("unit_id")
    return ExposurePolicy.objects.none()


def restrictions_visible_to(user: Any) -> QuerySet[Restriction]:
    """Restrictions of the officers the caller may see (the reason is OH's alone)."""
    if user.role not in EXPOSURE_READERS:
        return Restriction.objects.none()
    return Restriction.objects.filter(officer__in=officers_visible_to(user).values("pk"))


def officer_for_user(user: Any) -> Officer | None:
    return Officer.objects.filter(user=user).first() if user.role == Role.OFFICER else None
