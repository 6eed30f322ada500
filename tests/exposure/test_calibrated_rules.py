"""Calibrated limits (Part 10): reaching a pattern rule exactly (an hour then a break, the
fifth day in a row) is compliance, never a warning; dose limits warn from the ratio and
breach above the limit. Tables at each edge, the sweep's shortcuts against the full rules,
and the force defaults that let an officer who keeps the daily limit keep the others."""

from __future__ import annotations

import importlib
import itertools
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from hypothesis import given
from hypothesis import strategies as st

from tests import oracles
from tests.conftest import Cast
from welfare.exposure import rules
from welfare.exposure.models import ExposurePolicy
from welfare.exposure.rules import (
    BREACH,
    DOSE_RULES,
    FORCE_DEFAULTS,
    OK,
    PATTERN_RULES,
    WARNING,
    DayTotal,
    PolicyLayer,
    RestrictionLayer,
    Span,
    Usage,
)
from welfare.exposure.services import force_policy

LONDON = ZoneInfo("Europe/London")
FORCE = PolicyLayer(**FORCE_DEFAULTS)
DEFAULT = rules.effective_policy(FORCE)
ON = date(2027, 3, 10)  # a Wednesday, GMT


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def evaluate(
    usage: Usage, block: float = 0.0, policy: rules.Policy = DEFAULT
) -> dict[str, rules.LimitState]:
    result = rules.evaluate(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    )
    return {state.rule: state for state in result}


def needs_attention(usage: Usage, block: float, policy: rules.Policy = DEFAULT) -> bool:
    return rules.needs_attention(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    )


def stretches(minutes: float, pause: float, count: int, start: datetime) -> list[Span]:
    """`count` stretches of `minutes` of viewing, `pause` minutes apart."""
    spans = []
    for _ in range(count):
        end = start + timedelta(minutes=minutes)
        spans.append(Span(start, end, "image"))
        start = end + timedelta(minutes=pause)
    return spans


def usage_of(spans: list[Span]) -> Usage:
    seconds = sum((s.ended_at - s.started_at).total_seconds() for s in spans)
    return Usage(
        day_seconds=seconds,
        week_seconds=seconds,
        rolling_28d_seconds=seconds,
        day_weighted=seconds,
        week_weighted=seconds,
        rolling_28d_weighted=seconds,
        consecutive_days=1,
        last_end=max(s.ended_at for s in spans),
        medium_seconds={"image": seconds},
    )


# --- The pattern rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stretch", "state"),
    [(59.99, OK), (60, OK), (60.01, BREACH), (61, BREACH)],
)
def test_break_rule_at_each_edge_with_ten_minute_breaks(stretch: float, state: str) -> None:
    spans = stretches(stretch, 10, 3, at(ON, 8))  # three hours: under every dose warning
    block = rules.longest_block_minutes(spans, timedelta(minutes=DEFAULT.break_minutes))
    assert block == pytest.approx(stretch)
    result = evaluate(usage_of(spans), block)["break_after_minutes"]
    assert (result.used, result.limit, result.warning_at, result.state) == (
        stretch,
        60,
        60,  # a pattern rule has no warning level below its limit
        state,
    )
    assert needs_attention(usage_of(spans), block) == (state == BREACH)


@pytest.mark.parametrize(
    ("pause", "longest", "state"),
    [
        (9, 30 + 9 + 30, BREACH),  # a nine-minute pause is no break: one run of 69 minutes
        (9.99, 30 + 9.99 + 30, BREACH),
        (10, 30, OK),  # ten minutes is the break: the stretches stay apart
        (15, 30, OK),
    ],
)
def test_a_pause_shorter_than_the_break_does_not_end_the_stretch(
    pause: float, longest: float, state: str
) -> None:
    spans = stretches(30, pause, 2, at(ON, 9))
    block = rules.longest_block_minutes(spans, timedelta(minutes=DEFAULT.break_minutes))
    assert block == pytest.approx(longest)
    assert evaluate(usage_of(spans), block)["break_after_minutes"].state == state


def test_a_longer_break_asked_by_a_unit_is_the_one_that_counts() -> None:
    policy = rules.effective_policy(FORCE, PolicyLayer(break_minutes=15))
    spans = stretches(40, 10, 2, at(ON, 9))  # a ten-minute pause: no break for this unit
    block = rules.longest_block_minutes(spans, timedelta(minutes=policy.break_minutes))
    assert block == 90
    assert evaluate(usage_of(spans), block, policy)["break_after_minutes"].state == BREACH


def days_in_a_row(count: int, *, ending: date = ON, minutes: float = 60) -> dict[date, DayTotal]:
    days = {}
    for n in range(count):
        day = ending - timedelta(days=n)
        days[day] = DayTotal(day, minutes * 60, minutes * 60, at(day, 9), at(day, 10))
    before = ending - timedelta(days=count + 1)  # after a day off
    days[before] = DayTotal(before, 3600, 3600, at(before, 9), at(before, 10))
    return days


@pytest.mark.parametrize(
    ("maximum", "streak", "state"),
    [(5, 4, OK), (5, 5, OK), (5, 6, BREACH), (5, 7, BREACH), (3, 3, OK), (3, 4, BREACH)],
)
def test_consecutive_days_at_each_edge(maximum: int, streak: int, state: str) -> None:
    policy = rules.effective_policy(FORCE, PolicyLayer(max_consecutive_days=maximum))
    usage = oracles.usage_from_days(days_in_a_row(streak), ON)
    assert usage.consecutive_days == streak
    result = evaluate(usage, 60, policy)["max_consecutive_days"]
    assert (result.used, result.limit, result.warning_at, result.state) == (
        streak,
        maximum,
        maximum,
        state,
    )
    assert needs_attention(usage, 60, policy) == (state == BREACH)


@pytest.mark.parametrize(
    ("used", "limit", "state"),
    [
        (0, 60, OK),
        (59.99, 60, OK),
        (60, 60, OK),
        (60.01, 60, BREACH),
        (5, 5, OK),
        (6, 5, BREACH),
        (0, 0, OK),
        (0.01, 0, BREACH),
    ],
)
def test_reaching_a_pattern_limit_is_compliance(used: float, limit: float, state: str) -> None:
    assert rules.classify_pattern(used, limit) == state
    # The same amounts as a dose would warn from four fifths: the families differ only there.
    assert rules.classify(used, limit, 0.8) == (
        state if state == BREACH or used < limit * 0.8 else WARNING
    )


@given(
    usage=st.builds(
        Usage,
        day_seconds=st.floats(0, 40_000),
        consecutive_days=st.integers(0, 40),
    ),
    block=st.floats(0, 600),
    break_after=st.integers(5, 240),
    maximum=st.integers(1, 28),
    ratio=st.floats(0.1, 1.0),
)
def test_pattern_rules_never_warn(
    usage: Usage, block: float, break_after: int, maximum: int, ratio: float
) -> None:
    policy = rules.effective_policy(
        FORCE,
        PolicyLayer(
            break_after_minutes=break_after, max_consecutive_days=maximum, warning_ratio=ratio
        ),
    )
    states = evaluate(usage, block, policy)
    for rule in PATTERN_RULES:
        assert states[rule].state in (OK, BREACH)
        assert states[rule].warning_at == states[rule].limit
    assert states["break_after_minutes"].state == (BREACH if block > break_after else OK)
    assert states["max_consecutive_days"].state == (
        BREACH if usage.consecutive_days > maximum else OK
    )


def test_the_rule_families_are_disjoint_and_cover_the_measured_rules() -> None:
    assert not DOSE_RULES & PATTERN_RULES
    measured = {
        "daily_minutes",
        "week_minutes",
        "rolling_28d_minutes",
        "daily_index",
        "week_index",
        "rolling_28d_index",
        "break_after_minutes",
        "max_consecutive_days",
    }
    assert measured == DOSE_RULES | PATTERN_RULES


# --- The dose limits ---------------------------------------------------------------------

INDEXED = rules.effective_policy(
    FORCE, PolicyLayer(daily_index=400, week_index=2000, rolling_28d_index=8000)
)
DOSE_FIELDS = {
    "daily_minutes": "day_seconds",
    "week_minutes": "week_seconds",
    "rolling_28d_minutes": "rolling_28d_seconds",
    "daily_index": "day_weighted",
    "week_index": "week_weighted",
    "rolling_28d_index": "rolling_28d_weighted",
}


def dose_cases() -> list[tuple[str, float, float, str]]:
    cases = []
    for ratio in (0.8, 0.75, 0.9):
        policy = replace(INDEXED, warning_ratio=ratio)
        for rule in sorted(DOSE_RULES):
            limit = getattr(policy, rule)
            warn = limit * ratio
            cases += [
                (rule, ratio, warn - 0.01, OK),
                (rule, ratio, warn, WARNING),  # exactly at the ratio: a warning
                (rule, ratio, (warn + limit) / 2, WARNING),
                (rule, ratio, limit, WARNING),  # exactly at the limit: not yet a breach
                (rule, ratio, limit + 0.01, BREACH),
            ]
    return cases


@pytest.mark.parametrize(("rule", "ratio", "used", "state"), dose_cases())
def test_dose_limits_warn_from_the_ratio_and_breach_above_the_limit(
    rule: str, ratio: float, used: float, state: str
) -> None:
    policy = replace(INDEXED, warning_ratio=ratio)
    usage = Usage(**{DOSE_FIELDS[rule]: used * 60})
    result = evaluate(usage, 0, policy)[rule]
    limit = getattr(policy, rule)
    assert (result.limit, result.warning_at, result.state) == (
        limit,
        round(limit * ratio, 2),
        state,
    )
    assert needs_attention(usage, 0, policy) == (state != OK)


def test_the_force_defaults_warn_at_four_fifths() -> None:
    usage = Usage(day_seconds=240 * 60, week_seconds=1200 * 60, rolling_28d_seconds=4800 * 60)
    states = evaluate(usage)
    assert [
        (r, states[r].warning_at, states[r].state) for r in sorted(DOSE_RULES & states.keys())
    ] == [
        ("daily_minutes", 240, WARNING),
        ("rolling_28d_minutes", 4800, WARNING),
        ("week_minutes", 1200, WARNING),
    ]


@pytest.mark.parametrize(
    ("ratio", "limit"),
    [
        (0.8, 300),
        (0.7, 350),  # 244.99999999999997: shown as 245
        (0.51, 210),  # 107.10000000000001: shown as 107.1
    ],
)
def test_usage_at_the_shown_warning_point_is_a_warning(ratio: float, limit: int) -> None:
    policy = rules.effective_policy(FORCE, PolicyLayer(daily_minutes=limit, warning_ratio=ratio))
    shown = evaluate(Usage(), 0, policy)["daily_minutes"].warning_at
    at_shown = evaluate(Usage(day_seconds=shown * 60), 0, policy)["daily_minutes"]
    assert at_shown.used == shown
    assert at_shown.state == WARNING


# --- The sweep's shortcuts agree with the full rules on a grid of edges ---------------------

TIGHT_UNIT = PolicyLayer(daily_minutes=240, break_after_minutes=45, break_minutes=15)
# The policies the floor is computed from: the force's and units' (officers under a
# restriction are let through the floor by id, so it never sees a restriction).
UNIT_POLICIES = [
    DEFAULT,
    INDEXED,
    rules.effective_policy(FORCE, TIGHT_UNIT),
    rules.effective_policy(FORCE, PolicyLayer(max_consecutive_days=3, warning_ratio=0.9)),
]
RESTRICTED = rules.effective_policy(
    FORCE,
    TIGHT_UNIT,
    [RestrictionLayer(id=1, week_minutes=900, forbidden_media=frozenset({"video"}))],
)


def grid() -> list[tuple[Usage, float]]:
    cases = []
    for day, week, block, streak, last_end, video in itertools.product(
        (0, 191.99, 192, 216, 239.99, 240, 270, 300, 300.01),
        (0, 719.99, 720, 900, 1200, 1500, 1500.01),
        (0, 44.99, 45, 45.01, 59.99, 60, 60.01),
        (3, 4, 5, 6),
        (None, at(ON, 15, 59), at(ON, 16), at(ON, 16, 1)),
        (0, 1),
    ):
        if day > week:
            continue
        usage = Usage(
            day_seconds=day * 60,
            week_seconds=week * 60,
            rolling_28d_seconds=week * 60,
            day_weighted=day * 60 * 1.2,
            week_weighted=week * 60 * 1.2,
            rolling_28d_weighted=week * 60 * 1.2,
            consecutive_days=streak if day else 0,
            last_end=last_end if day else None,
            medium_seconds={"image": day * 60 - video, "video": video} if day else {},
        )
        cases.append((usage, block if day else 0))
    return cases


GRID = grid()


def test_needs_attention_agrees_with_evaluate_on_a_grid_of_edges() -> None:
    checked = attention = 0
    for policy in [*UNIT_POLICIES, RESTRICTED]:
        for usage, block in GRID:
            states = rules.evaluate(
                on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
            )
            expected = any(s.state != OK for s in states)
            assert needs_attention(usage, block, policy) == expected, (policy, usage, block)
            checked += 1
            attention += expected
    assert checked > 10_000
    assert 0 < attention < checked  # both sides of every edge were met


def test_the_attention_floor_is_never_above_a_case_evaluate_flags() -> None:
    floor = rules.attention_floor(UNIT_POLICIES)
    flagged = 0
    for usage, block in GRID:
        end = rules.latest_end_minutes(usage, ON, LONDON)
        for policy in UNIT_POLICIES:
            states = rules.evaluate(
                on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
            )
            if any(s.state in (WARNING, BREACH) for s in states):
                # The run measured with the floor's (longest) break is at least this long.
                assert oracles.meets_floor(floor, usage, block * 60, end), (policy, usage, block)
                flagged += 1
    assert flagged > 1000


def test_the_default_floor_sits_at_the_pattern_limits_not_below() -> None:
    floor = rules.attention_floor([DEFAULT])
    assert floor.block_seconds == pytest.approx(60 * 60)  # past an hour, not 48 minutes
    assert floor.streak == 6  # the sixth day in a row, not the fourth
    assert floor.break_gap_seconds == 10 * 60
    assert floor.windows["day_seconds"] == pytest.approx(240 * 60)  # doses still warn
    compliant = Usage(day_seconds=200 * 60, week_seconds=1000 * 60, consecutive_days=5)
    assert not oracles.meets_floor(floor, compliant, 60 * 60 - 1, 14 * 60)
    assert oracles.meets_floor(floor, compliant, 60 * 60, 14 * 60)  # the floor errs low
    assert oracles.meets_floor(floor, replace(compliant, consecutive_days=6), 0, 14 * 60)


# --- The corrected force defaults -------------------------------------------------------------


def iwf_day(day: date) -> DayTotal:
    """Five hours in 50-minute stretches with 10-minute breaks, 09:00 to 14:50."""
    return DayTotal(day, 300 * 60, 300 * 60, at(day, 9), at(day, 14, 50), {"image": 300 * 60})


def test_an_officer_keeping_the_daily_limit_keeps_the_week_and_28_days() -> None:
    monday = date(2027, 3, 1)
    days = {
        monday + timedelta(days=n): iwf_day(monday + timedelta(days=n))
        for n in range(8 * 7)
        if (monday + timedelta(days=n)).weekday() < 5
    }
    block = rules.longest_block_minutes(stretches(50, 10, 6, at(monday, 9)), timedelta(minutes=10))
    assert block == 50
    seen: dict[str, set[str]] = {}
    for day in sorted(days):
        usage = oracles.usage_from_days(days, day)
        result = rules.evaluate(
            on=day, usage=usage, longest_block_minutes=block, policy=DEFAULT, tz=LONDON
        )
        for state in result:
            seen.setdefault(state.rule, set()).add(state.state)
    assert all(BREACH not in states for states in seen.values()), seen
    assert seen["daily_minutes"] == {WARNING}  # 300 of 300: shown, never a breach
    assert seen["week_minutes"] == {OK, WARNING}  # 1,500 of 1,500 on Fridays
    assert WARNING in seen["rolling_28d_minutes"]  # 6,000 of 6,000 after four weeks
    assert seen["break_after_minutes"] == {OK}
    assert seen["max_consecutive_days"] == {OK}
    assert seen["latest_end"] == {OK}
    week = oracles.usage_from_days(days, date(2027, 3, 26))  # the fourth Friday
    assert (week.week_seconds / 60, week.rolling_28d_seconds / 60) == (1500, 6000)


def test_the_force_defaults_are_25_and_100_hours() -> None:
    assert (FORCE_DEFAULTS["week_minutes"], FORCE_DEFAULTS["rolling_28d_minutes"]) == (
        5 * FORCE_DEFAULTS["daily_minutes"],
        4 * 5 * FORCE_DEFAULTS["daily_minutes"],
    )
    assert (FORCE_DEFAULTS["week_minutes"], FORCE_DEFAULTS["rolling_28d_minutes"]) == (1500, 6000)


MIGRATION = importlib.import_module("welfare.exposure.migrations.0009_corrected_force_limits")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((1200, 4200), (1500, 6000)),  # the old shipped defaults: corrected
        ((1200, 5000), (1500, 5000)),  # a force's own value stays
        ((1000, 4200), (1000, 6000)),
        ((900, 3600), (900, 3600)),
    ],
)
def test_the_migration_moves_only_the_old_shipped_defaults(
    cast: Cast, before: tuple[int, int], after: tuple[int, int]
) -> None:
    force = force_policy()
    force.week_minutes, force.rolling_28d_minutes = before
    force.save()
    unit = ExposurePolicy.objects.create(
        unit=cast.unit_a, week_minutes=1200, rolling_28d_minutes=4200, updated_at=force.updated_at
    )
    MIGRATION.correct(apps, None)
    force.refresh_from_db()
    unit.refresh_from_db()
    assert (force.week_minutes, force.rolling_28d_minutes) == after
    assert (unit.week_minutes, unit.rolling_28d_minutes) == (1200, 4200)  # a unit's choice
    MIGRATION.restore(apps, None)  # back to what it was
    force.refresh_from_db()
    assert (force.week_minutes, force.rolling_28d_minutes) == before
