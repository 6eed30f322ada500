"""Posting rules as pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

POSTING_START_NOT_AFTER_OPEN = (
    "A new posting must start after the current one started ({started_on})."
)
POSTING_OVERLAPS_EARLIER = (
    "The new posting would overlap an earlier posting that ended on {ended_on}."
)
POSTING_END_BEFORE_START = "A posting cannot end before it started ({started_on})."
POSTING_ALREADY_ENDED = "This posting has ended already."
# The database's overlap constraint counts a posting's days from 2000-01-01 in six digits per
# officer (people migration 0002): dates outside this window would collide with another
# officer's postings, or with nothing at all.
POSTING_EARLIEST = date(2000, 1, 1)
POSTING_LATEST = date(2999, 12, 31)
POSTING_DATE_OUT_OF_RANGE = "Posting dates run from 2000-01-01 to 2999-12-31."


@dataclass(frozen=True)
class PostingSpan:
    started_on: date
    ended_on: date | None


def is_current(span: PostingSpan, today: date) -> bool:
    return span.started_on <= today and (span.ended_on is None or span.ended_on >= today)


def posting_date_error(day: date) -> str | None:
    return None if POSTING_EARLIEST <= day <= POSTING_LATEST else POSTING_DATE_OUT_OF_RANGE


def plan_new_posting(
    *, open_posting: PostingSpan | None, latest_closed_end: date | None, start: date
) -> tuple[date | None, str | None]:
    """Where the open posting must end for a new one starting on `start`, or why it cannot start.

    Returns (end date for the open posting or None, error message or None).
    """
    if (out_of_range := posting_date_error(start)) is not None:
        return None, out_of_range
    if open_posting is not None:
        if start <= open_posting.started_on:
            return None, POSTING_START_NOT_AFTER_OPEN.format(started_on=open_posting.started_on)
        return start - timedelta(days=1), None
    if latest_closed_end is not None and start <= latest_closed_end:
        return None, POSTING_OVERLAPS_EARLIER.format(ended_on=latest_closed_end)
    return None, None


def end_error(span: PostingSpan, ended_on: date) -> str | None:
    if span.ended_on is not None:
        return POSTING_ALREADY_ENDED
    if ended_on < span.started_on:
        return POSTING_END_BEFORE_START.format(started_on=span.started_on)
    return posting_date_error(ended_on)


ROTATION_REVIEW_DATE_REQUIRED = "A decision to stay needs the date of the next review."
ROTATION_ROTATE_DATE_REQUIRED = "A decision to rotate needs the date to rotate by."
ROTATION_DATE_IN_PAST = "The date must be after today."


def rotation_review_problems(
    *, decision: str, next_review_on: date | None, rotate_by: date | None, today: date
) -> dict[str, str]:
    if decision == "stay":
        if next_review_on is None:
            return {"next_review_on": ROTATION_REVIEW_DATE_REQUIRED}
        if next_review_on <= today:
            return {"next_review_on": ROTATION_DATE_IN_PAST}
    if decision == "rotate":
        if rotate_by is None:
            return {"rotate_by": ROTATION_ROTATE_DATE_REQUIRED}
        if rotate_by <= today:
            return {"rotate_by": ROTATION_DATE_IN_PAST}
    return {}


# --- Spells: time in the work, across postings -----------------------------------------------

SAME_KIND = "same_kind"
SPECIALIST = "specialist"
CONTINUITY_MODES = (SAME_KIND, SPECIALIST)
# Every kind of unit but this one is specialist (high-risk) work.
NOT_SPECIALIST = "other"


@dataclass(frozen=True)
class Continuity:
    """When two postings in a row are one spell in the work (DOMAIN.md): the units are of the
    same kind (`across=SPECIALIST`: or both of a specialist kind), and the next posting starts
    at most `gap_days` days after the day the previous one ended (0: the next day)."""

    across: str = SAME_KIND
    gap_days: int = 7


@dataclass(frozen=True)
class PostingFact:
    id: int
    unit_kind: str
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class Spell:
    """Postings in a row that count as one period in the work, in date order. The first
    posting's id names the spell: it does not change when the spell goes on."""

    postings: tuple[PostingFact, ...]

    @property
    def id(self) -> int:
        return self.postings[0].id

    @property
    def first(self) -> PostingFact:
        return self.postings[0]

    @property
    def last(self) -> PostingFact:
        return self.postings[-1]

    @property
    def started_on(self) -> date:
        return self.postings[0].started_on

    @property
    def ended_on(self) -> date | None:
        return self.postings[-1].ended_on

    def is_current(self, today: date) -> bool:
        return self.started_on <= today and (self.ended_on is None or self.ended_on >= today)

    def posting_on(self, today: date) -> PostingFact:
        """The posting in force on `today` (in a gap between two: the earlier)."""
        return [p for p in self.postings if p.started_on <= today][-1]


def same_work(kind: str, other: str, across: str) -> bool:
    if kind == other:
        return True
    return across == SPECIALIST and NOT_SPECIALIST not in (kind, other)


def continues(previous: PostingFact, following: PostingFact, continuity: Continuity) -> bool:
    """Whether `following` goes on with the spell that `previous` is part of."""
    if previous.ended_on is None:
        return False
    gap = (following.started_on - previous.ended_on).days - 1
    return 0 <= gap <= continuity.gap_days and same_work(
        previous.unit_kind, following.unit_kind, continuity.across
    )


def spells(postings: Iterable[PostingFact], continuity: Continuity) -> list[Spell]:
    """An officer's postings as spells in the work, earliest first."""
    found: list[list[PostingFact]] = []
    for posting in sorted(postings, key=lambda p: (p.started_on, p.id)):
        if found and continues(found[-1][-1], posting, continuity):
            found[-1].append(posting)
        else:
            found.append([posting])
    return [Spell(tuple(group)) for group in found]


def current_spell(spells_: Sequence[Spell], today: date) -> Spell | None:
    return next((spell for spell in spells_ if spell.is_current(today)), None)
