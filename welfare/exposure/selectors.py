from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from welfare.core import clock
from welfare.core.db import get_or_404
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
from welfare.people.models import Officer, Posting
from welfare.people.selectors import officers_visible_to

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
    visible = exposures_visible_to(user, include=("superseded",)).select_related("officer")
    return get_or_404(visible, session_id)


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


@dataclass(frozen=True)
class OfficerDay:
    """What the limit rules need for one officer on one day."""

    days: dict[date, rules.DayTotal]
    spans: list[rules.Span]
    policy: rules.Policy


def officer_days(wanted: Mapping[int, Iterable[date]]) -> dict[tuple[int, date], OfficerDay]:
    """Totals, sessions and the effective policy for many (officer, day) pairs in a fixed
    number of queries, whatever the number of officers or days."""
    pairs = {(officer_id, day) for officer_id, days in wanted.items() for day in days}
    if not pairs:
        return {}
    officer_ids = sorted({officer_id for officer_id, _ in pairs})
    first = min(day for _, day in pairs)
    last = max(day for _, day in pairs)
    zone = clock.local_zone()

    totals: dict[int, dict[date, rules.DayTotal]] = defaultdict(dict)
    for row in DailyTotal.objects.filter(
        officer_id__in=officer_ids, day__gte=first - timedelta(days=27), day__lte=last
    ).values_list("officer_id", "day", "seconds", "weighted_seconds", "first_start", "last_end"):
        officer_id, day, seconds, weighted, first_start, last_end = row
        totals[officer_id][day] = rules.DayTotal(day, seconds, weighted, first_start, last_end)

    lo, hi = rules.local_midnight(first, zone), rules.local_midnight(last + timedelta(days=1), zone)
    sessions: dict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for officer_id, start, end, material in ExposureSession.objects.filter(
        officer_id__in=officer_ids, state=SessionState.CURRENT, started_at__lt=hi, ended_at__gt=lo
    ).values_list("officer_id", "started_at", "ended_at", "material"):
        sessions[officer_id].append((start, end, material))

    force = _layer(force_policy())
    assert force is not None
    unit_layers = {p.unit_id: _layer(p) for p in ExposurePolicy.objects.filter(unit__isnull=False)}
    postings: dict[int, list[Posting]] = defaultdict(list)
    for posting in Posting.objects.filter(officer_id__in=officer_ids):
        postings[posting.officer_id].append(posting)
    restrictions: dict[int, list[Restriction]] = defaultdict(list)
    for restriction in Restriction.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=first),
        officer_id__in=officer_ids,
        starts_on__lte=last,
        lifted_at__isnull=True,
    ):
        restrictions[restriction.officer_id].append(restriction)

    result: dict[tuple[int, date], OfficerDay] = {}
    for officer_id, day in pairs:
        unit_id = next(
            (
                p.unit_id
                for p in sorted(postings[officer_id], key=lambda p: p.started_on, reverse=True)
                if p.started_on <= day and (p.ended_on is None or p.ended_on >= day)
            ),
            None,
        )
        in_force = [
            rules.RestrictionLayer(
                id=r.pk,
                daily_minutes=r.daily_minutes,
                week_minutes=r.week_minutes,
                forbidden_media=frozenset(r.forbidden_media),
            )
            for r in restrictions[officer_id]
            if r.starts_on <= day and (r.ends_on is None or r.ends_on >= day)
        ]
        policy = rules.effective_policy(force, unit_layers.get(unit_id), in_force)
        day_lo = rules.local_midnight(day, zone)
        day_hi = rules.local_midnight(day + timedelta(days=1), zone)
        spans = [
            rules.Span(max(start, day_lo), min(end, day_hi), material)
            for start, end, material in sessions[officer_id]
            if start < day_hi and end > day_lo
        ]
        window = {
            d: t for d, t in totals[officer_id].items() if day - timedelta(days=27) <= d <= day
        }
        result[(officer_id, day)] = OfficerDay(days=window, spans=spans, policy=policy)
    return result


def limit_states(
    wanted: Mapping[int, Iterable[date]],
) -> dict[tuple[int, date], list[rules.LimitState]]:
    """Every limit's state for many officers and days, for the exposure sweep."""
    zone = clock.local_zone()
    return {
        key: rules.evaluate(
            on=key[1], days=data.days, spans_on_day=data.spans, policy=data.policy, tz=zone
        )
        for key, data in officer_days(wanted).items()
    }


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
    totals (never the whole session history). `running_since` is a session in progress:
    it counts (at weight 1 until it is logged) and gives the time the next break is due."""
    data = officer_days({officer.pk: [on]})[(officer.pk, on)]
    days, spans, policy = dict(data.days), data.spans, data.policy
    logged_spans = list(spans)
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
            rules.next_break_due_at(logged_spans, running_since, policy)
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
