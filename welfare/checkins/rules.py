"""The check-in schedule and a check-in's status, as pure functions."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

DUE = "due"
BOOKED = "booked"
COMPLETED = "completed"
MISSED = "missed"
OVERDUE = "overdue"
CANCELLED = "cancelled"

PRE_POSTING = "pre_posting"
PERIODIC = "periodic"
TRIGGERED = "triggered"
EXIT = "exit"
SELF_REFERRAL = "self_referral"

# Completed check-ins of these kinds restart the periodic count; exits and
# self-referrals do not (they are about leaving, or on the officer's own initiative).
RESETS_PERIODIC = frozenset({PRE_POSTING, PERIODIC, TRIGGERED})


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Whole months from start to end (the day-of-month must be reached)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) > end:
        months -= 1
    return months


@dataclass(frozen=True)
class KindPolicy:
    pre_posting: bool
    periodic_months: int | None
    exit_checkin: bool
    exit_follow_up_months: int | None


@dataclass(frozen=True)
class ScheduleSettings:
    lead_days: int = 60  # check-ins for postings starting or ending this soon are created now
    catch_up_days: int = 30  # postings that started or ended this long ago still get theirs


@dataclass(frozen=True)
class PostingFact:
    id: int
    unit_kind: str
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class CompletedFact:
    key: str
    kind: str
    completed_on: date


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    due_on: date
    follow_up: bool = False


def _is_current(posting: PostingFact, today: date) -> bool:
    return posting.started_on <= today and (posting.ended_on is None or posting.ended_on >= today)


def planned_checkins(
    *,
    officer_id: int,
    postings: Sequence[PostingFact],
    completed: Iterable[CompletedFact],
    has_open_periodic: bool,
    policies: Mapping[str, KindPolicy],
    today: date,
    settings: ScheduleSettings = ScheduleSettings(),
) -> list[Planned]:
    """The check-ins one officer should have as of `today`, each under a stable key.

    Creating them under these keys is idempotent: a key that exists already is skipped.
    """
    planned: list[Planned] = []
    earliest = today - timedelta(days=settings.catch_up_days)
    latest = today + timedelta(days=settings.lead_days)
    for posting in postings:
        policy = policies.get(posting.unit_kind)
        if policy is None:
            continue
        if policy.pre_posting and earliest <= posting.started_on <= latest:
            planned.append(Planned(f"pre_posting:{posting.id}", PRE_POSTING, posting.started_on))
        if policy.exit_checkin and posting.ended_on and earliest <= posting.ended_on <= latest:
            planned.append(Planned(f"exit:{posting.id}", EXIT, posting.ended_on))
            if policy.exit_follow_up_months:
                planned.append(
                    Planned(
                        f"exit_follow_up:{posting.id}",
                        EXIT,
                        add_months(posting.ended_on, policy.exit_follow_up_months),
                        follow_up=True,
                    )
                )
    current = next((p for p in postings if _is_current(p, today)), None)
    policy = policies.get(current.unit_kind) if current else None
    if current and policy and policy.periodic_months and not has_open_periodic:
        resets = [c for c in completed if c.kind in RESETS_PERIODIC]
        last = max(resets, key=lambda c: (c.completed_on, c.key), default=None)
        if last is not None and last.completed_on >= current.started_on:
            base_key, base_day = f"after:{last.key}", last.completed_on
        else:
            base_key, base_day = f"posting:{current.id}", current.started_on
        planned.append(
            Planned(
                f"periodic:{officer_id}:{base_key}",
                PERIODIC,
                add_months(base_day, policy.periodic_months),
            )
        )
    return planned


def checkin_status(
    *,
    due_on: date,
    booked_for: datetime | None,
    completed: bool,
    cancelled: bool,
    today: date,
    now: datetime,
    missed_after: timedelta,
) -> str:
    """Overdue from the due date (unless booked for later that same day); missed when a
    booked appointment passed without being completed; booked; due."""
    if cancelled:
        return CANCELLED
    if completed:
        return COMPLETED
    if today > due_on:
        return OVERDUE
    if today == due_on and not (booked_for is not None and booked_for >= now):
        return OVERDUE
    if booked_for is not None and booked_for + missed_after < now:
        return MISSED
    if booked_for is not None:
        return BOOKED
    return DUE


def reminder_tier(days_until_due: int, thresholds: Sequence[int]) -> int | None:
    """The reminder that applies now: the nearest threshold the due date is within.

    After an outage only the nearest is sent; earlier ones are not sent late.
    """
    if days_until_due <= 0:
        return None
    applicable = [n for n in thresholds if days_until_due <= n]
    return min(applicable) if applicable else None


def days_overdue(due_on: date, today: date) -> int:
    return (today - due_on).days
