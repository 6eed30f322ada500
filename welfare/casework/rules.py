"""Consent to a management report, and the order of the OH case list, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class CaseSignals:
    urgent_alerts: int
    open_alerts: int
    overdue_checkins: int
    rising_scores: int


# Higher first in the case list: urgent alerts, then rising scores, overdue check-ins, the rest.
NEED_WEIGHTS = {
    "urgent_alerts": 1000,
    "rising_scores": 100,
    "overdue_checkins": 10,
    "open_alerts": 1,
}


def case_need(signals: CaseSignals) -> int:
    return sum(weight * getattr(signals, name) for name, weight in NEED_WEIGHTS.items())
