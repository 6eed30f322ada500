"""The check-in schedule and a check-in's status, as pure functions."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from welfare.people.rules import Continuity, PostingFact, Spell, current_spell, spells

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
CONTACT = "contact"

# Completed check-ins of these kinds restart the periodic count; exits, self-referrals and
# regular contacts do not (they are about leaving, on the officer's own initiative, or a
# series of their own).
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
    contact_every_months: int | None = None


@dataclass(frozen=True)
class ScheduleSettings:
    lead_days: int = 60  # check-ins for postings starting or ending this soon are created now
    catch_up_days: int = 30  # postings that started or ended this long ago still get theirs
    # Which postings in a row are one spell in the work (people.rules.Continuity).
    continuity: Continuity = field(default_factory=Continuity)


@dataclass(frozen=True)
class CompletedFact:
    id: int
    key: str
    kind: str
    completed_on: date


@dataclass(frozen=True)
class CancelledFact:
    """A periodic or contact check-in cancelled before it was done: its series goes on."""

    id: int
    kind: str
    due_on: date


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    due_on: date
    follow_up: bool = False


def _next_in_series(
    *,
    series: str,
    officer_id: int,
    months: int,
    spell: Spell,
    completed: Iterable[CompletedFact],
    cancelled: Iterable[CancelledFact],
) -> Planned:
    """The next check-in of a series (periodic, contact) in a spell: `months` after the
    latest of the spell's start, the last completed check-in that restarts the series, and
    the due date of the last one cancelled. Keyed by what it follows, so a cancelled one
    never blocks the next."""
    bases = [(spell.started_on, 0, f"posting:{spell.id}")]
    bases += [(c.completed_on, c.id, f"after:{c.id}") for c in completed]
    bases += [(c.due_on, c.id, f"after:{c.id}") for c in cancelled]
    day, _, base_key = max(b for b in bases if b[0] >= spell.started_on)
    return Planned(f"{series}:{officer_id}:{base_key}", series, add_months(day, months))


def planned_checkins(
    *,
    officer_id: int,
    postings: Sequence[PostingFact],
    completed: Iterable[CompletedFact],
    has_open_periodic: bool,
    policies: Mapping[str, KindPolicy],
    today: date,
    settings: ScheduleSettings = ScheduleSettings(),
    cancelled: Iterable[CancelledFact] = (),
    has_open_contact: bool = False,
) -> list[Planned]:
    """The check-ins one officer should have as of `today`, each under a stable key.

    Postings in a row in the same work are one spell (people.rules.spells): a baseline when
    the spell starts, an exit (and its follow-up) when it ends, and the periodic and contact
    series counted from its start, whatever restructures moved the officer in between.
    Creating them under these keys is idempotent: a key that exists already is skipped.
    """
    planned: list[Planned] = []
    earliest = today - timedelta(days=settings.catch_up_days)
    latest = today + timedelta(days=settings.lead_days)
    officer_spells = spells(postings, settings.continuity)
    for spell in officer_spells:
        first, last = spell.first, spell.last
        policy = policies.get(first.unit_kind)
        if policy and policy.pre_posting and earliest <= first.started_on <= latest:
            planned.append(Planned(f"pre_posting:{first.id}", PRE_POSTING, first.started_on))
        policy = policies.get(last.unit_kind)
        ended = last.ended_on
        if policy and policy.exit_checkin and ended and earliest <= ended <= latest:
            planned.append(Planned(f"exit:{last.id}", EXIT, ended))
            if policy.exit_follow_up_months:
                follow_up_on = add_months(ended, policy.exit_follow_up_months)
                planned.append(Planned(f"exit_follow_up:{last.id}", EXIT, follow_up_on, True))
    current = current_spell(officer_spells, today)
    policy = policies.get(current.posting_on(today).unit_kind) if current else None
    if current is None or policy is None:
        return planned
    completed, cancelled = list(completed), list(cancelled)
    if policy.periodic_months and not has_open_periodic:
        planned.append(
            _next_in_series(
                series=PERIODIC,
                officer_id=officer_id,
                months=policy.periodic_months,
                spell=current,
                completed=[c for c in completed if c.kind in RESETS_PERIODIC],
                cancelled=[c for c in cancelled if c.kind == PERIODIC],
            )
        )
    if policy.contact_every_months and not has_open_contact:
        planned.append(
            _next_in_series(
                series=CONTACT,
                officer_id=officer_id,
                months=policy.contact_every_months,
                spell=current,
                completed=[c for c in completed if c.kind == CONTACT],
                cancelled=[c for c in cancelled if c.kind == CONTACT],
            )
        )
    return planned


def withdrawn_keys(
    postings: Sequence[PostingFact], settings: ScheduleSettings = ScheduleSettings()
) -> set[str]:
    """Keys of baselines and exits that are not needed, as the postings now stand: an exit
    planned for a posting that another then continued within the gap (recorded after the
    first one's end), or a baseline of a posting that continues a spell. Open ones are
    withdrawn; done ones stay."""
    keys: set[str] = set()
    for spell in spells(postings, settings.continuity):
        keys.update(f"pre_posting:{p.id}" for p in spell.postings[1:])
        for posting in spell.postings[:-1]:
            keys.update({f"exit:{posting.id}", f"exit_follow_up:{posting.id}"})
    return keys


POLICY_MONTHS_RANGE = "Give a number of months from 1 to {most}, or leave it empty."
POLICY_FOLLOW_UP_NEEDS_EXIT = "An exit follow-up needs the exit check-in."
# The most months each interval of a check-in policy may be: surveillance less often than
# every two years is no surveillance; a "regular" contact rarer than yearly is a periodic one.
POLICY_MOST_MONTHS = {
    "periodic_months": 24,
    "exit_follow_up_months": 24,
    "contact_every_months": 12,
}


def checkin_policy_problems(
    *,
    exit_checkin: bool,
    periodic_months: int | None,
    exit_follow_up_months: int | None,
    contact_every_months: int | None,
) -> dict[str, list[str]]:
    """What is wrong with a kind of unit's check-in policy, field by field (empty: nothing)."""
    values = {
        "periodic_months": periodic_months,
        "exit_follow_up_months": exit_follow_up_months,
        "contact_every_months": contact_every_months,
    }
    problems = {
        field: [POLICY_MONTHS_RANGE.format(most=POLICY_MOST_MONTHS[field])]
        for field, months in values.items()
        if months is not None and not 1 <= months <= POLICY_MOST_MONTHS[field]
    }
    if exit_follow_up_months is not None and not exit_checkin:
        problems.setdefault("exit_follow_up_months", []).append(POLICY_FOLLOW_UP_NEEDS_EXIT)
    return problems


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


# --- Incidents: TRiM-style follow-ups ------------------------------------------------------

INCIDENT_FOLLOW_UP = "incident_follow_up"

INCIDENT_IN_FUTURE = "The date cannot be in the future."
INCIDENT_TOO_OLD = "Give a date within the last {days} days."
INCIDENT_CATEGORY_UNKNOWN = "Choose a category from the list."


def incident_problems(
    *,
    occurred_on: date,
    category: str,
    categories: Iterable[str],
    today: date,
    max_age_days: int,
) -> dict[str, list[str]]:
    """What is wrong with an incident as recorded on `today`, field by field (empty: nothing).
    A date up to `max_age_days` back is accepted, that day included."""
    problems: dict[str, list[str]] = {}
    if occurred_on > today:
        problems["occurred_on"] = [INCIDENT_IN_FUTURE]
    elif (today - occurred_on).days > max_age_days:
        problems["occurred_on"] = [INCIDENT_TOO_OLD.format(days=max_age_days)]
    if category not in set(categories):
        problems["category"] = [INCIDENT_CATEGORY_UNKNOWN]
    return problems


def incident_follow_ups(
    *, incident_id: int, occurred_on: date, recorded_on: date, days: Iterable[int]
) -> list[Planned]:
    """The follow-up contacts an incident calls for, earliest first, each under a stable key.

    They fall `days` after the incident (TRiM: about 72 hours, then about a month). One
    recorded so late that the first follow-up's day has come already counts them all from
    the day it is recorded instead: the first contact is then as soon after it as it would
    have been, the later ones keep their spacing, and none is overdue as soon as it exists.
    """
    offsets = sorted(set(days))
    if not offsets:
        return []
    first_due = occurred_on + timedelta(days=offsets[0])
    base = occurred_on if first_due > recorded_on else recorded_on
    return [
        Planned(f"incident:{incident_id}:{n}", INCIDENT_FOLLOW_UP, base + timedelta(days=n))
        for n in offsets
    ]
