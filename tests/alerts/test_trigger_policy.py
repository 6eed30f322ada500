"""When breaches book a triggered check-in, and which alert an occurrence belongs to: the
pure rules (welfare/alerts/rules.py), as tables at each edge and properties."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.alerts import rules
from welfare.alerts.rules import TriggerPolicy, checkin_trigger_day, group_occurrences
from welfare.exposure.rules import DOSE_RULES, PATTERN_RULES

D = date(2027, 3, 10)
PATTERN_BREACHES = sorted(PATTERN_RULES | {"latest_end", "forbidden_media"})


def day(n: int) -> date:
    return D + timedelta(days=n)


def trigger(
    breaches: list[tuple[str, int]], after: int | None = None, policy: TriggerPolicy | None = None
) -> date | None:
    return checkin_trigger_day(
        [(rule, day(n)) for rule, n in breaches],
        after=None if after is None else day(after),
        dose_rules=DOSE_RULES,
        policy=policy or TriggerPolicy(),
    )


# --- checkin_trigger_day ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breaches", "after", "expected"),
    [
        ([], None, None),
        ([("daily_minutes", 0)], None, None),  # one breach of a day's limit: no check-in
        ([("week_minutes", 0)], None, None),
        ([("daily_index", 0)], None, None),
        # Two on the same day are one day's excess, not a repeat.
        ([("daily_minutes", 0), ("daily_minutes", 0)], None, None),
        ([("daily_minutes", 0), ("week_minutes", 0), ("daily_index", 0)], None, None),
        # Two on different days within 28 days: the check-in from the second.
        ([("daily_minutes", 0), ("daily_minutes", 1)], None, 1),
        ([("daily_minutes", 0), ("week_minutes", 27)], None, 27),
        ([("daily_minutes", 0), ("daily_minutes", 28)], None, None),  # 28 days apart: no
        ([("daily_minutes", 28), ("daily_minutes", 0)], None, None),  # in any order
        ([("daily_minutes", 27), ("daily_minutes", 0)], None, 27),
        # The first day on which the policy is met.
        ([("daily_minutes", 0), ("daily_minutes", 5), ("daily_minutes", 6)], None, 5),
        ([("daily_minutes", 0), ("daily_minutes", 30), ("daily_minutes", 40)], None, 40),
        # One breach of a 28-day limit is a sustained excess: a check-in at once.
        ([("rolling_28d_minutes", 0)], None, 0),
        ([("rolling_28d_index", 3)], None, 3),
        ([("daily_minutes", 0), ("rolling_28d_minutes", 40)], None, 40),
        # Only breaches after the last exposure-triggered check-in's day count.
        ([("daily_minutes", 0), ("daily_minutes", 1)], 0, None),
        ([("daily_minutes", 0), ("daily_minutes", 1)], -1, 1),
        ([("daily_minutes", 1), ("daily_minutes", 2), ("daily_minutes", 3)], 1, 3),
        ([("rolling_28d_minutes", 0)], 0, None),
        ([("rolling_28d_minutes", 0), ("rolling_28d_minutes", 1)], 0, 1),
    ],
)
def test_when_dose_breaches_book_a_checkin(
    breaches: list[tuple[str, int]], after: int | None, expected: int | None
) -> None:
    assert trigger(breaches, after) == (None if expected is None else day(expected))


@pytest.mark.parametrize("rule", PATTERN_BREACHES)
def test_pattern_breaches_never_book_a_checkin(rule: str) -> None:
    every_day = [(rule, n) for n in range(60)]
    assert trigger(every_day) is None
    # Nor do they make a single dose breach a repeat.
    assert trigger([*every_day, ("daily_minutes", 10)]) is None
    assert trigger([*every_day, ("daily_minutes", 10), ("daily_minutes", 11)]) == day(11)


def test_a_configured_policy_is_followed() -> None:
    three_in_a_fortnight = TriggerPolicy(repeat=3, within_days=14, at_once=frozenset())
    days = [("daily_minutes", 0), ("daily_minutes", 7)]
    assert trigger(days, policy=three_in_a_fortnight) is None
    assert trigger([*days, ("daily_minutes", 14)], policy=three_in_a_fortnight) is None
    assert trigger([*days, ("daily_minutes", 13)], policy=three_in_a_fortnight) == day(13)
    assert trigger([("rolling_28d_minutes", 0)], policy=three_in_a_fortnight) is None
    once = TriggerPolicy(repeat=1)
    assert trigger([("daily_minutes", 4)], policy=once) == day(4)


dose_breach = st.tuples(st.sampled_from(sorted(DOSE_RULES)), st.integers(-60, 60))
pattern_breach = st.tuples(st.sampled_from(PATTERN_BREACHES), st.integers(-60, 60))


@given(
    st.lists(dose_breach, max_size=8),
    st.lists(pattern_breach, max_size=8),
    st.one_of(st.none(), st.integers(-60, 60)),
    st.randoms(use_true_random=False),
)
def test_the_trigger_day_is_a_counted_dose_breach_and_ignores_order_and_patterns(
    doses: list[tuple[str, int]],
    patterns: list[tuple[str, int]],
    after: int | None,
    shuffler: random.Random,
) -> None:
    found = trigger(doses, after)
    mixed = [*doses, *patterns]
    shuffler.shuffle(mixed)
    assert trigger(mixed, after) == found
    if found is not None:
        assert found in {day(n) for _, n in doses}
        assert after is None or found > day(after)
        # No check-in without a reason: a 28-day breach, or two days within the window.
        counted = {day(n) for _, n in doses if after is None or n > after}
        window = {d for d in counted if timedelta(0) <= found - d < timedelta(days=28)}
        assert len(window) >= 2 or any(
            rule in TriggerPolicy().at_once and day(n) == found for rule, n in doses
        )


@given(st.lists(dose_breach, max_size=8), st.lists(dose_breach, max_size=4))
def test_more_breaches_never_delay_a_checkin(
    doses: list[tuple[str, int]], more: list[tuple[str, int]]
) -> None:
    before, after = trigger(doses), trigger([*doses, *more])
    if before is not None:
        assert after is not None
        assert after <= before


# --- group_occurrences ---------------------------------------------------------------------


def occurrence(n: int, rule: str = "break_after_minutes", officer: int = 1) -> rules.Occurrence:
    return (officer, rule, day(n), rules.limit_alert_key(officer, rule, day(n), "breach"))


def keys(found: list[rules.Occurrence]) -> list[str]:
    return [key for *_, key in found]


def test_occurrences_without_an_open_alert_start_one_that_the_others_join() -> None:
    found = [occurrence(0), occurrence(1), occurrence(2)]
    assert group_occurrences(found, {}, 28) == [keys(found)[0]] * 3


@pytest.mark.parametrize(("apart", "joins"), [(1, True), (27, True), (28, False), (60, False)])
def test_grouping_joins_within_28_days_and_starts_anew_beyond(apart: int, joins: bool) -> None:
    first, later = occurrence(0), occurrence(apart)
    assert group_occurrences([first, later], {}, 28) == [
        first[3],
        first[3] if joins else later[3],
    ]
    # The same measured from an open alert's latest day: None means "joins the open alert".
    open_spans = {(1, "break_after_minutes"): (day(-10), day(0))}
    assert group_occurrences([later], open_spans, 28) == [None if joins else later[3]]


def test_a_late_logged_older_day_joins_the_open_alert() -> None:
    open_spans = {(1, "break_after_minutes"): (day(0), day(5))}
    assert group_occurrences([occurrence(-3)], open_spans, 28) == [None]
    assert group_occurrences([occurrence(-27)], open_spans, 28) == [None]
    older = occurrence(-28)
    assert group_occurrences([older], open_spans, 28) == [older[3]]


def test_occurrences_are_grouped_in_day_order_and_answered_in_the_order_given() -> None:
    later, earlier = occurrence(2), occurrence(0)
    assert group_occurrences([later, earlier], {}, 28) == [earlier[3], earlier[3]]


def test_a_problem_that_keeps_coming_back_stays_one_alert() -> None:
    """Measured from the latest occurrence: a chain with gaps under 28 days is one alert
    however long it runs; a pause of 28 days or more starts a new one."""
    chain = [occurrence(0), occurrence(20), occurrence(40), occurrence(60)]
    assert group_occurrences(chain, {}, 28) == [chain[0][3]] * 4
    paused = [occurrence(0), occurrence(20), occurrence(48), occurrence(50)]
    assert group_occurrences(paused, {}, 28) == [
        paused[0][3],
        paused[0][3],
        paused[2][3],
        paused[2][3],
    ]
    open_spans = {(1, "break_after_minutes"): (day(0), day(10))}
    beyond = [occurrence(30), occurrence(35), occurrence(70)]
    assert group_occurrences(beyond, open_spans, 28) == [None, None, beyond[2][3]]


def test_rules_and_officers_are_grouped_apart() -> None:
    found = [
        occurrence(0, "break_after_minutes", 1),
        occurrence(1, "latest_end", 1),
        occurrence(2, "break_after_minutes", 2),
        occurrence(3, "break_after_minutes", 1),
        occurrence(4, "latest_end", 1),
    ]
    open_spans = {(2, "break_after_minutes"): (day(-5), day(-5))}
    assert group_occurrences(found, open_spans, 28) == [
        found[0][3],
        found[1][3],
        None,  # officer 2's open alert
        found[0][3],
        found[1][3],
    ]


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.sampled_from(["a", "b"]), st.integers(-40, 80)),
        max_size=12,
        unique=True,
    ),
    st.dictionaries(
        st.tuples(st.integers(1, 3), st.sampled_from(["a", "b"])),
        st.tuples(st.integers(-40, 80), st.integers(0, 30)),
    ),
    st.integers(1, 40),
)
def test_every_occurrence_is_placed_within_its_groups_reach(
    raw: list[tuple[int, str, int]],
    opened: dict[tuple[int, str], tuple[int, int]],
    within: int,
) -> None:
    """Every occurrence joins a group of its own officer and rule, and each group's days,
    in order, never leave a gap of `within` days or more (measured from the open alert's
    span for those that join it)."""
    found = [(officer, rule, day(n), f"k:{officer}:{rule}:{n}") for officer, rule, n in raw]
    open_spans = {
        group: (day(n), day(n + min(length, within - 1))) for group, (n, length) in opened.items()
    }
    placed = group_occurrences(found, open_spans, within)
    assert len(placed) == len(found)
    starts = {o[3]: o for o in found}
    members: dict[object, list[date]] = {}
    for (officer, rule, on, _key), group in zip(found, placed, strict=True):
        if group is None:
            first, last = open_spans[(officer, rule)]
            members.setdefault((officer, rule), [first, last]).append(on)
        else:
            assert starts[group][:2] == (officer, rule)  # never another officer's or rule's
            members.setdefault(group, []).append(on)
    for days in members.values():
        ordered = sorted(days)
        assert all((b - a).days < within for a, b in itertools.pairwise(ordered))


# --- Keys, due dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "a", "b", "same"),
    [
        ("daily_minutes", date(2027, 3, 8), date(2027, 3, 9), False),  # a day's
        ("break_after_minutes", date(2027, 3, 8), date(2027, 3, 9), False),
        ("latest_end", date(2027, 3, 8), date(2027, 3, 9), False),
        ("week_minutes", date(2027, 3, 8), date(2027, 3, 14), True),  # Monday to Sunday
        ("week_minutes", date(2027, 3, 14), date(2027, 3, 15), False),
        ("max_consecutive_days", date(2027, 3, 8), date(2027, 3, 14), True),
        ("max_consecutive_days", date(2026, 12, 31), date(2027, 1, 1), True),  # 2026-W53
        ("rolling_28d_minutes", date(2027, 3, 1), date(2027, 3, 31), True),  # a month's
        ("rolling_28d_index", date(2027, 3, 31), date(2027, 4, 1), False),
    ],
)
def test_an_occurrence_key_names_its_rules_period(rule: str, a: date, b: date, same: bool) -> None:
    key_a, key_b = (rules.limit_alert_key(7, rule, d, "breach") for d in (a, b))
    assert (key_a == key_b) == same
    assert key_a.startswith(f"exposure_limit:7:{rule}:")
    assert key_a.endswith(":breach")


def test_a_triggered_checkin_key_and_day() -> None:
    key = rules.exposure_trigger_key(42, date(2027, 3, 11))
    assert key == "triggered:exposure:42:2027-03-11"
    assert rules.exposure_trigger_day(key, date(2027, 3, 20)) == date(2027, 3, 11)
    # One booked before Part 10 (keyed by the alert) counts from the day it was made.
    legacy = "triggered:exposure_limit:42:daily_minutes:2027-03-01:breach"
    assert rules.exposure_trigger_day(legacy, date(2027, 3, 2)) == date(2027, 3, 2)
    assert rules.exposure_trigger_day("triggered:exposure:42:garbled", D) == D


@pytest.mark.parametrize(
    ("breach", "today", "due"),
    [
        (date(2027, 3, 11), date(2027, 3, 11), date(2027, 3, 18)),
        (date(2027, 3, 11), date(2027, 3, 14), date(2027, 3, 18)),
        (date(2027, 3, 1), date(2027, 3, 20), date(2027, 3, 20)),  # found late: not in the past
    ],
)
def test_a_triggered_checkin_is_due_within_a_week_of_the_breach(
    breach: date, today: date, due: date
) -> None:
    assert rules.triggered_due_on(breach, today, 7) == due
