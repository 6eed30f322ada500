"""Consent to a management report, and the order of the OH case list, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DRAFT = "draft"
OFFERED = "offered"
CONSENTED = "consented"
DECLINED = "declined"
WITHDRAWN = "withdrawn"
DISCLOSED = "disclosed"

# action -> (states it may start from, the state it leads to, who takes it)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "offer": (frozenset({DRAFT}), OFFERED, "oh"),
    "consent": (frozenset({OFFERED, DECLINED, WITHDRAWN}), CONSENTED, "officer"),
    "decline": (frozenset({OFFERED}), DECLINED, "officer"),
    "withdraw": (frozenset({CONSENTED}), WITHDRAWN, "officer"),
    "disclose": (frozenset({DRAFT, OFFERED, DECLINED, WITHDRAWN}), DISCLOSED, "oh"),
}

NOT_NOW = "A report that is {state} cannot be {done} now."
DONE = {
    "offer": "offered",
    "consent": "consented to",
    "decline": "declined",
    "withdraw": "withdrawn",
    "disclose": "disclosed",
}


def not_now(state: str, action: str) -> str:
    return NOT_NOW.format(state=state, done=DONE[action])


def next_state(state: str, action: str) -> str | None:
    """The state after `action`, or None when the action does not apply now."""
    starts, target, _ = TRANSITIONS[action]
    return target if state in starts else None


def who_may(action: str) -> str:
    return TRANSITIONS[action][2]


# --- Where to get help now -----------------------------------------------------------------------

# The national lines: the contacts a new service starts with (an administrator edits them and
# adds the force's own), and what is shown whenever no contact is active, so that the support
# message never lists nobody.
DEFAULT_SUPPORT_CONTACTS: tuple[dict[str, object], ...] = (
    {
        "name": "Samaritans",
        "how": "Call 116 123",
        "phone": "116123",
        "hours": "24 hours, every day",
        "note": "Free from any phone. You can also e-mail jo@samaritans.org.",
        "position": 10,
    },
    {
        "name": "Blue Light text line (Shout and Mind)",
        "how": "Text BLUELIGHT to 85258",
        "phone": "",
        "hours": "24 hours, every day",
        "note": "Free, confidential text support for emergency services staff.",
        "position": 20,
    },
    {
        "name": "NHS 111",
        "how": "Call 111 and choose the mental health option",
        "phone": "111",
        "hours": "24 hours, every day",
        "note": "Urgent mental health help from the NHS.",
        "position": 30,
    },
    {
        "name": "Police Care UK",
        "how": "policecare.org.uk",
        "phone": "",
        "hours": "",
        "note": "Confidential support for serving and former police officers, staff and "
        "their families, independent of the police.",
        "position": 40,
    },
)


# --- What needs occupational health, in order and in words ------------------------------------

# Flags in words, for the case list and the work queue; a future instrument adds its own.
FLAG_WORDS = {
    "self_harm_thoughts": "self-harm answer",
    "over_cutoff": "score over the cut-off",
    "dsm5_pattern": "PTSD symptom pattern",
    "rose_by_10": "score up 10 or more",
}

# An open item's tier: the case list and the work queue put lower tiers first.
URGENT_UNACKNOWLEDGED = 1  # a critical answer or an escalated check-in nobody has acknowledged
URGENT_ACKNOWLEDGED = 2  # the same, acknowledged and not yet resolved
ATTENTION = 3  # a concerning score, an overdue check-in, a self-referral waiting
OTHER = 4  # other open alerts (limits, rotation): the supervisor's to act on
NOTHING_OPEN = 5


@dataclass(frozen=True)
class OpenItem:
    """One piece of open work about an officer, counted once: an alert (a check-in that is
    overdue is its overdue alert), or a self-referral not yet overdue."""

    kind: str  # an alert kind, or "self_referral"
    since: datetime  # when it became what it is (raised, escalated, referred)
    urgent: bool = False
    acknowledged: bool = False
    flags: tuple[str, ...] = ()
    days_overdue: int | None = None

    @property
    def tier(self) -> int:
        if self.urgent:
            return URGENT_ACKNOWLEDGED if self.acknowledged else URGENT_UNACKNOWLEDGED
        if self.kind in ("screening_risk", "checkin_overdue", "self_referral"):
            return ATTENTION
        return OTHER


def ago(delta: timedelta) -> str:
    """ "just now", "25 min ago", "2 h ago", "3 days ago"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def describe(item: OpenItem, now: datetime) -> str:
    """One open item in words: "self-harm answer 2 h ago, not acknowledged"."""
    when = ago(now - item.since)
    if item.kind == "screening_risk":
        words = [FLAG_WORDS.get(flag, flag.replace("_", " ")) for flag in item.flags]
        what = f"{' and '.join(words) or 'concerning questionnaire'} {when}"
    elif item.kind == "checkin_overdue":
        days = item.days_overdue
        overdue = (
            f"check-in {days} day{'s' if days != 1 else ''} overdue" if days else "check-in overdue"
        )
        what = f"{overdue}, escalated {when}" if item.urgent else overdue
    elif item.kind == "self_referral":
        what = f"asked for help (self-referral) {when}"
    elif item.kind == "exposure_limit":
        what = f"exposure limit alert {when}"
    elif item.kind == "rotation_due":
        what = f"rotation review due {when}"
    else:
        what = f"{item.kind.replace('_', ' ')} {when}"
    if item.urgent:
        what += ", acknowledged" if item.acknowledged else ", not acknowledged"
    return what


@dataclass(frozen=True)
class Need:
    tier: int
    since: datetime | None
    reasons: tuple[str, ...]


def case_need(items: list[OpenItem], now: datetime, *, shown: int = 3) -> Need:
    """How much an officer's case needs OH now: the tier of their most pressing open item
    (oldest first within it), and the reasons in words, each open item once, most pressing
    first; past `shown` reasons, how many more."""
    if not items:
        return Need(NOTHING_OPEN, None, ())
    ordered = sorted(items, key=lambda item: (item.tier, item.since))
    first = ordered[0]
    reasons = [describe(item, now) for item in ordered[:shown]]
    if len(ordered) > shown:
        reasons.append(f"{len(ordered) - shown} more open")
    since = min(item.since for item in ordered if item.tier == first.tier)
    return Need(first.tier, since, tuple(reasons))


def queue_due_at(
    *,
    kind: str,
    raised_at: datetime,
    ack_due_at: datetime | None,
    escalate_after: timedelta,
    respond_within: timedelta,
) -> datetime:
    """When a work-queue item is due: an urgent one by its deadline to acknowledge; an overdue
    check-in before it is escalated; anything else within the time a triggered check-in has."""
    if ack_due_at is not None:
        return ack_due_at
    return raised_at + (escalate_after if kind == "checkin_overdue" else respond_within)


# --- "Who opened my record", in words ----------------------------------------------------

READ_WORDS = {
    "case.read": "your case summary",
    "case.notes.read": "case notes",
    "screening.read": "questionnaire answers",
    "report.read": "a report about you",
    "checkin.read": "a check-in",
    "restriction.read": "a restriction",
    "subject_access.exported": "a copy of everything held about you (subject access)",
}
ROLE_WORDS = {
    "oh": "Occupational health",
    "supervisor": "Your supervisor",
    "admin": "An administrator",
    "system": "The service",
}
# Reads by the same person closer together than this are one visit.
VISIT_GAP = timedelta(minutes=30)


@dataclass(frozen=True)
class Visit:
    first: datetime
    last: datetime
    who: str
    opened: list[str]


def visits(reads: Sequence[Mapping[str, Any]], gap: timedelta = VISIT_GAP) -> list[Visit]:
    """Read events (`at`, `action`, `role`, `reader`: the person's name where it may be
    shown) as visits, newest first: one per person and sitting, with what was opened in
    words, each thing once, in the order first opened."""
    found: list[Visit] = []
    for read in sorted(reads, key=lambda r: r["at"]):
        role = str(read.get("role") or "")
        who = str(read.get("reader") or ROLE_WORDS.get(role, role.capitalize()))
        if read.get("reader") and role in ROLE_WORDS:
            who = f"{read['reader']} ({ROLE_WORDS[role].lower()})"
        what = READ_WORDS.get(str(read["action"]), str(read["action"]))
        last = found[-1] if found else None
        if last is not None and last.who == who and read["at"] - last.last < gap:
            opened = last.opened if what in last.opened else [*last.opened, what]
            found[-1] = Visit(last.first, read["at"], who, opened)
        else:
            found.append(Visit(read["at"], read["at"], who, [what]))
    return found[::-1]
