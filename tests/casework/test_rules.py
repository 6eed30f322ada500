"""What needs occupational health, in order and in words: table tests for each kind of open
item, the tiers, the reasons, and when a work-queue item is due; property tests for the
order of the case list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.casework import rules
from welfare.casework.rules import (
    ATTENTION,
    FLAG_WORDS,
    NOTHING_OPEN,
    OTHER,
    URGENT_ACKNOWLEDGED,
    URGENT_UNACKNOWLEDGED,
    OpenItem,
    ago,
    case_need,
    describe,
    queue_due_at,
)

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)


def before(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


# --- Ago ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),  # a clock a little ahead
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=25, seconds=59), "25 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=1), "1 h ago"),
        (timedelta(hours=2, minutes=59), "2 h ago"),
        (timedelta(hours=47, minutes=59), "47 h ago"),
        (timedelta(hours=48), "2 days ago"),
        (timedelta(days=3, hours=23), "3 days ago"),
        (timedelta(days=400), "400 days ago"),
    ],
)
def test_ago(delta: timedelta, words: str) -> None:
    assert ago(delta) == words


# --- Describe ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "words"),
    [
        pytest.param(
            OpenItem("screening_risk", before(hours=2), urgent=True, flags=("self_harm_thoughts",)),
            "self-harm answer 2 h ago, not acknowledged",
            id="critical answer, not acknowledged",
        ),
        pytest.param(
            OpenItem(
                "screening_risk",
                before(minutes=25),
                urgent=True,
                acknowledged=True,
                flags=("self_harm_thoughts",),
            ),
            "self-harm answer 25 min ago, acknowledged",
            id="critical answer, acknowledged",
        ),
        pytest.param(
            OpenItem("screening_risk", before(days=3), flags=("over_cutoff",)),
            "score over the cut-off 3 days ago",
            id="concerning score",
        ),
        pytest.param(
            OpenItem("screening_risk", before(hours=5), flags=("over_cutoff", "dsm5_pattern")),
            "score over the cut-off and PTSD symptom pattern 5 h ago",
            id="two flags",
        ),
        pytest.param(
            OpenItem("screening_risk", before(hours=5), flags=("rose_by_10",)),
            "score up 10 or more 5 h ago",
            id="rose by 10",
        ),
        pytest.param(
            OpenItem("screening_risk", before(hours=5), flags=("new_future_flag",)),
            "new future flag 5 h ago",
            id="a flag without words yet",
        ),
        pytest.param(
            OpenItem("screening_risk", NOW),
            "concerning questionnaire just now",
            id="no flags",
        ),
        pytest.param(
            OpenItem("checkin_overdue", before(days=2), days_overdue=2),
            "check-in 2 days overdue",
            id="overdue check-in",
        ),
        pytest.param(
            OpenItem("checkin_overdue", before(days=1), days_overdue=1),
            "check-in 1 day overdue",
            id="one day, singular",
        ),
        pytest.param(
            OpenItem("checkin_overdue", before(hours=1), days_overdue=0),
            "check-in overdue",
            id="overdue today",
        ),
        pytest.param(
            OpenItem("checkin_overdue", before(hours=1)),
            "check-in overdue",
            id="days unknown",
        ),
        pytest.param(
            OpenItem("checkin_overdue", before(hours=3), urgent=True, days_overdue=14),
            "check-in 14 days overdue, escalated 3 h ago, not acknowledged",
            id="escalated, not acknowledged",
        ),
        pytest.param(
            OpenItem(
                "checkin_overdue", before(days=2), urgent=True, acknowledged=True, days_overdue=16
            ),
            "check-in 16 days overdue, escalated 2 days ago, acknowledged",
            id="escalated, acknowledged",
        ),
        pytest.param(
            OpenItem("self_referral", before(minutes=5)),
            "asked for help (self-referral) 5 min ago",
            id="self-referral",
        ),
        pytest.param(
            OpenItem("exposure_limit", before(hours=30)),
            "exposure limit alert 30 h ago",
            id="limit",
        ),
        pytest.param(
            OpenItem("rotation_due", before(days=10)),
            "rotation review due 10 days ago",
            id="rotation",
        ),
        pytest.param(
            OpenItem("something_new", before(minutes=3)),
            "something new 3 min ago",
            id="a kind without words yet",
        ),
    ],
)
def test_describe(item: OpenItem, words: str) -> None:
    assert describe(item, NOW) == words


@pytest.mark.parametrize("flag", sorted(FLAG_WORDS))
def test_each_flag_is_said_in_its_own_words(flag: str) -> None:
    item = OpenItem("screening_risk", before(hours=1), flags=(flag,))
    assert describe(item, NOW) == f"{FLAG_WORDS[flag]} 1 h ago"
    assert "_" not in FLAG_WORDS[flag]


# --- Tiers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "tier"),
    [
        (OpenItem("screening_risk", NOW, urgent=True), URGENT_UNACKNOWLEDGED),
        (OpenItem("checkin_overdue", NOW, urgent=True), URGENT_UNACKNOWLEDGED),
        (OpenItem("screening_risk", NOW, urgent=True, acknowledged=True), URGENT_ACKNOWLEDGED),
        (OpenItem("checkin_overdue", NOW, urgent=True, acknowledged=True), URGENT_ACKNOWLEDGED),
        (OpenItem("screening_risk", NOW), ATTENTION),
        (OpenItem("screening_risk", NOW, acknowledged=True), ATTENTION),
        (OpenItem("checkin_overdue", NOW), ATTENTION),
        (OpenItem("self_referral", NOW), ATTENTION),
        (OpenItem("exposure_limit", NOW), OTHER),
        (OpenItem("rotation_due", NOW), OTHER),
    ],
)
def test_tier(item: OpenItem, tier: int) -> None:
    assert item.tier == tier


def test_tiers_are_in_order_of_need() -> None:
    assert URGENT_UNACKNOWLEDGED < URGENT_ACKNOWLEDGED < ATTENTION < OTHER < NOTHING_OPEN


# --- The need of a case -----------------------------------------------------------------------------


def test_nothing_open_is_the_last_tier_without_reasons() -> None:
    assert case_need([], NOW) == rules.Need(NOTHING_OPEN, None, ())


def test_the_most_pressing_item_decides_the_tier_whatever_the_count() -> None:
    limits = [OpenItem("exposure_limit", before(days=n)) for n in range(1, 31)]
    critical = OpenItem(
        "screening_risk", before(hours=2), urgent=True, flags=("self_harm_thoughts",)
    )
    need = case_need([*limits, critical], NOW)
    assert need.tier == URGENT_UNACKNOWLEDGED
    assert need.since == critical.since
    assert need.reasons == (
        "self-harm answer 2 h ago, not acknowledged",
        "exposure limit alert 30 days ago",
        "exposure limit alert 29 days ago",
        "28 more open",
    )


def test_reasons_go_most_pressing_first_then_oldest() -> None:
    items = [
        OpenItem("exposure_limit", before(days=20)),
        OpenItem("checkin_overdue", before(days=3), days_overdue=3),
        OpenItem("screening_risk", before(hours=1), urgent=True, acknowledged=True, flags=("self_harm_thoughts",)),
        OpenItem("self_referral", before(days=5)),
        OpenItem("checkin_overdue", before(hours=4), urgent=True, days_overdue=14),
    ]  # fmt: skip
    need = case_need(items, NOW, shown=10)
    assert need.tier == URGENT_UNACKNOWLEDGED
    assert need.reasons == (
        "check-in 14 days overdue, escalated 4 h ago, not acknowledged",
        "self-harm answer 1 h ago, acknowledged",
        "asked for help (self-referral) 5 days ago",
        "check-in 3 days overdue",
        "exposure limit alert 20 days ago",
    )


def test_waiting_since_is_the_oldest_item_of_the_top_tier() -> None:
    items = [
        OpenItem("exposure_limit", before(days=40)),  # older, but a lower tier
        OpenItem("screening_risk", before(hours=1), flags=("over_cutoff",)),
        OpenItem("self_referral", before(days=2)),
        OpenItem("checkin_overdue", before(hours=6), days_overdue=1),
    ]
    need = case_need(items, NOW)
    assert need.tier == ATTENTION
    assert need.since == before(days=2)


@pytest.mark.parametrize(
    ("count", "more"), [(1, None), (3, None), (4, "1 more open"), (9, "6 more open")]
)
def test_past_three_reasons_say_how_many_more(count: int, more: str | None) -> None:
    items = [OpenItem("rotation_due", before(days=n)) for n in range(count)]
    reasons = case_need(items, NOW).reasons
    assert len(reasons) == min(count, 3) + (more is not None)
    assert (reasons[-1] if more else None) == more


def test_shown_sets_how_many_reasons_are_written() -> None:
    items = [OpenItem("rotation_due", before(days=n)) for n in range(5)]
    assert case_need(items, NOW, shown=1).reasons == (
        "rotation review due 4 days ago",
        "4 more open",
    )
    assert len(case_need(items, NOW, shown=5).reasons) == 5


kinds = st.sampled_from(
    ["screening_risk", "checkin_overdue", "self_referral", "exposure_limit", "rotation_due"]
)
items = st.builds(
    OpenItem,
    kind=kinds,
    since=st.integers(min_value=0, max_value=90 * 24 * 60).map(lambda m: before(minutes=m)),
    urgent=st.booleans(),
    acknowledged=st.booleans(),
    days_overdue=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)


@given(st.lists(items, max_size=12))
def test_the_need_is_that_of_the_most_pressing_item_and_every_item_is_counted(
    open_items: list[OpenItem],
) -> None:
    need = case_need(open_items, NOW)
    if not open_items:
        assert need.tier == NOTHING_OPEN
        return
    top = min(item.tier for item in open_items)
    assert need.tier == top
    assert need.since == min(item.since for item in open_items if item.tier == top)
    written = [reason for reason in need.reasons if not reason.endswith(" more open")]
    hidden = len(open_items) - len(written)
    assert len(written) == min(len(open_items), 3)
    assert hidden == 0 or need.reasons[-1] == f"{hidden} more open"


# --- When a queue item is due ------------------------------------------------------------------------

ESCALATE, RESPOND = timedelta(days=14), timedelta(days=7)
RAISED = datetime(2027, 3, 10, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "ack_due_at", "due"),
    [
        ("screening_risk", RAISED + timedelta(hours=4), RAISED + timedelta(hours=4)),
        ("checkin_overdue", RAISED + timedelta(hours=4), RAISED + timedelta(hours=4)),
        ("checkin_overdue", None, RAISED + ESCALATE),
        ("screening_risk", None, RAISED + RESPOND),
        ("self_referral", None, RAISED + RESPOND),
        # A deadline earlier than the raise (an escalated alert raised long before) still wins.
        ("checkin_overdue", RAISED - timedelta(days=1), RAISED - timedelta(days=1)),
    ],
)
def test_queue_due_at(kind: str, ack_due_at: datetime | None, due: datetime) -> None:
    assert (
        queue_due_at(
            kind=kind,
            raised_at=RAISED,
            ack_due_at=ack_due_at,
            escalate_after=ESCALATE,
            respond_within=RESPOND,
        )
        == due
    )
