"""Exposure rules: table tests at every edge, property tests for the invariants."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import oracles
from welfare.exposure import rules
from welfare.exposure.rules import (
    BREACH,
    DEFAULT_WEIGHTS,
    FORCE_DEFAULTS,
    OK,
    WARNING,
    DayTotal,
    PolicyLayer,
    RestrictionLayer,
    Span,
    Weights,
)

LONDON = ZoneInfo("Europe/London")
FORCE = PolicyLayer(**{k: v for k, v in FORCE_DEFAULTS.items()})


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


# --- Days and clock changes ------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(instants, st.integers(min_value=1, max_value=24 * 3600))
def test_splitting_at_local_midnight_keeps_the_total(start: datetime, seconds: int) -> None:
    end = start + timedelta(seconds=seconds)
    parts = rules.split_by_local_day(start, end, LONDON)
    assert sum(s for _, s in parts) == pytest.approx(seconds)
    days = [d for d, _ in parts]
    assert days == sorted(days)
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))
    assert days[0] == start.astimezone(LONDON).date()
    assert all(s <= 25 * 3600 for _, s in parts)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2027, 3, 28), 23),
        (date(2027, 10, 31), 25),
        (date(2027, 6, 1), 24),
        (date(2027, 1, 15), 24),
    ],
)
def test_clock_change_days_have_their_real_length(day: date, hours: int) -> None:
    start = at(day - timedelta(days=1), 23)
    end = at(day + timedelta(days=1), 1)
    parts = dict(rules.split_by_local_day(start, end, LONDON))
    assert parts[day] == hours * 3600
    assert parts[day - timedelta(days=1)] == 3600
    assert parts[day + timedelta(days=1)] == 3600


def test_a_session_across_midnight_counts_on_both_days() -> None:
    parts = rules.split_by_local_day(
        at(date(2027, 3, 10), 23, 30), at(date(2027, 3, 11), 0, 45), LONDON
    )
    assert parts == [(date(2027, 3, 10), 1800), (date(2027, 3, 11), 2700)]


# --- Session checks ------------------------------------------------------

NOW = datetime(2027, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "problems"),
    [
        (NOW - timedelta(hours=2), NOW - timedelta(hours=1), {}),
        (
            NOW - timedelta(hours=1),
            NOW - timedelta(hours=1),
            {"ended_at": rules.END_NOT_AFTER_START},
        ),
        (NOW - timedelta(hours=30), NOW - timedelta(hours=6), {}),
        (
            NOW - timedelta(hours=30),
            NOW - timedelta(hours=6) + timedelta(seconds=1),
            {"ended_at": rules.TOO_LONG.format(hours=24)},
        ),
        (
            NOW + timedelta(minutes=5),
            NOW + timedelta(minutes=5),
            {"ended_at": rules.END_NOT_AFTER_START},
        ),
        (
            NOW + timedelta(minutes=5, seconds=1),
            NOW + timedelta(minutes=10),
            {"started_at": rules.START_IN_FUTURE},
        ),
        (NOW - timedelta(minutes=10), NOW + timedelta(minutes=5), {}),
        (
            NOW - timedelta(minutes=10),
            NOW + timedelta(minutes=6),
            {"ended_at": rules.END_IN_FUTURE},
        ),
    ],
)
def test_session_problems(start: datetime, end: datetime, problems: dict[str, str]) -> None:
    assert (
        rules.session_problems(
            started_at=start, ended_at=end, now=NOW, max_hours=24, skew=timedelta(minutes=5)
        )
        == problems
    )


# --- Weights ------------------------------------------------------


@pytest.mark.parametrize(
    ("material", "category", "violent", "weight"),
    [
        ("image", "C", False, 1.0),
        ("text", "none", False, 0.5),
        ("video", "B", False, 1.5 * 1.2),
        ("video_with_audio", "A", False, 2.0 * 1.5),
        ("live", "A", True, 2.5 * 1.5 * 1.5),
        ("audio", "unknown", True, 1.5 * 1.5),
    ],
)
def test_weights_multiply_as_documented(
    material: str, category: str, violent: bool, weight: float
) -> None:
    assert oracles.session_weight(material, category, violent, DEFAULT_WEIGHTS) == pytest.approx(
        weight
    )


@given(
    st.sampled_from(list(DEFAULT_WEIGHTS.medium)),
    st.sampled_from(list(DEFAULT_WEIGHTS.category)),
    st.booleans(),
)
def test_weight_is_the_product_of_its_parts(material: str, category: str, violent: bool) -> None:
    expected = (
        DEFAULT_WEIGHTS.medium[material]
        * DEFAULT_WEIGHTS.category[category]
        * (1.5 if violent else 1.0)
    )
    assert oracles.session_weight(material, category, violent, DEFAULT_WEIGHTS) == pytest.approx(
        expected
    )


def test_weights_round_trip_through_json() -> None:
    assert Weights.from_json(DEFAULT_WEIGHTS.to_json()) == DEFAULT_WEIGHTS


# --- Classification ------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "state"),
    [
        (0, OK),
        (239.99, OK),
        (240, WARNING),
        (299.99, WARNING),
        (300, WARNING),
        (300.01, BREACH),
        (900, BREACH),
    ],
)
def test_exactly_at_the_limit_is_a_warning_not_a_breach(used: float, state: str) -> None:
    assert rules.classify(used, 300, 0.8) == state


@given(
    st.floats(min_value=1, max_value=10_000),
    st.floats(min_value=0.1, max_value=1.0),
    st.floats(min_value=0, max_value=20_000),
)
def test_warning_always_comes_before_breach(limit: float, ratio: float, used: float) -> None:
    state = rules.classify(used, limit, ratio)
    if state == BREACH:
        assert rules.classify(limit, limit, ratio) == WARNING
        assert used > limit
    if used <= limit:
        assert state != BREACH


# --- Policy layering ------------------------------------------------------


def test_unit_overrides_and_restrictions_only_tighten() -> None:
    unit = PolicyLayer(daily_minutes=240, latest_end=time(15, 0))
    looser = RestrictionLayer(id=1, daily_minutes=600)
    tighter = RestrictionLayer(
        id=2, daily_minutes=120, forbidden_media=frozenset({"video", "video_with_audio"})
    )
    policy = rules.effective_policy(FORCE, unit, [looser, tighter])
    assert policy.daily_minutes == 120
    assert policy.sources["daily_minutes"] == "restriction"
    assert policy.week_minutes == 1500
    assert policy.sources["week_minutes"] == "force"
    assert policy.latest_end == time(15, 0)
    assert policy.sources["latest_end"] == "unit"
    assert policy.forbidden_media == {"video", "video_with_audio"}
    assert rules.effective_policy(FORCE, unit, [looser]).daily_minutes == 240


# --- Evaluation ------------------------------------------------------

ON = date(2027, 3, 10)


def day(
    d: date, minutes: float, *, weight: float = 1.0, last_end: datetime | None = None
) -> DayTotal:
    return DayTotal(d, minutes * 60, minutes * 60 * weight, last_end=last_end or at(d, 12))


def states(
    days: dict[date, DayTotal], spans: list[Span] | None = None, policy=None
) -> dict[str, rules.LimitState]:
    policy = policy or rules.effective_policy(FORCE)
    spans = spans or []
    media: dict[str, float] = {}
    for span in spans:
        media[span.material] = (
            media.get(span.material, 0) + (span.ended_at - span.started_at).total_seconds()
        )
    usage = replace(oracles.usage_from_days(days, ON), medium_seconds=media)
    block = rules.longest_block_minutes(spans, timedelta(minutes=policy.break_minutes))
    result = rules.evaluate(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    )
    attention = rules.needs_attention(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    )
    assert attention == any(s.state != OK for s in result)
    return {s.rule: s for s in result}


@pytest.mark.parametrize(
    ("minutes", "state"), [(239, OK), (240, WARNING), (300, WARNING), (301, BREACH)]
)
def test_daily_minutes_edges(minutes: float, state: str) -> None:
    limit = states({ON: day(ON, minutes)})["daily_minutes"]
    assert (limit.used, limit.limit, limit.warning_at, limit.state) == (minutes, 300, 240, state)


def test_rolling_windows_count_the_right_days() -> None:
    days = {ON - timedelta(days=n): day(ON - timedelta(days=n), 220) for n in range(28)}
    result = states(days)
    assert result["week_minutes"].used == 1540
    assert result["week_minutes"].state == BREACH
    assert result["rolling_28d_minutes"].used == 6160
    assert result["rolling_28d_minutes"].state == BREACH
    # Every day within the daily limit (200 of 300) stays within the week's and 28 days'.
    compliant = states({d: day(d, 200) for d in days})
    assert (compliant["week_minutes"].used, compliant["week_minutes"].state) == (1400, WARNING)
    assert (compliant["rolling_28d_minutes"].used, compliant["rolling_28d_minutes"].state) == (
        5600,
        WARNING,
    )
    days_outside = {ON - timedelta(days=7): day(ON - timedelta(days=7), 500)}
    assert states(days_outside)["week_minutes"].used == 0
    assert states(days_outside)["rolling_28d_minutes"].used == 500


def test_index_limits_use_weighted_minutes() -> None:
    policy = rules.effective_policy(FORCE, PolicyLayer(daily_index=400))
    result = states({ON: day(ON, 200, weight=2.25)}, policy=policy)
    assert result["daily_index"].used == 450
    assert result["daily_index"].state == BREACH
    assert "daily_index" not in states({ON: day(ON, 200)})  # no index limit set by default


@pytest.mark.parametrize(
    ("gap_minutes", "second_minutes", "longest", "state"),
    [
        (10, 55, 55, OK),  # a ten-minute pause is a break: the blocks stay apart
        (9, 20, 79, BREACH),  # a shorter pause is not: 50 + 9 + 20 minutes without a break
        (9, 1, 60, OK),  # exactly sixty minutes then a break is the rule kept, no warning
        (9, 2, 61, BREACH),
        (30, 30, 50, OK),
        (0, 0, 50, OK),
    ],
)
def test_break_rule(gap_minutes: int, second_minutes: int, longest: float, state: str) -> None:
    first = Span(at(ON, 9), at(ON, 9, 50), "image")
    spans = [first]
    if second_minutes:
        start = first.ended_at + timedelta(minutes=gap_minutes)
        spans.append(Span(start, start + timedelta(minutes=second_minutes), "image"))
    result = states({ON: day(ON, 50 + second_minutes)}, spans)["break_after_minutes"]
    assert (result.used, result.state) == (longest, state)


def test_exactly_sixty_minutes_without_a_break_is_at_the_limit() -> None:
    spans = [Span(at(ON, 9), at(ON, 10), "image")]
    at_limit = states({ON: day(ON, 60)}, spans)["break_after_minutes"]
    # A pattern rule has no warning: reaching the limit is compliance.
    assert (at_limit.used, at_limit.warning_at, at_limit.state) == (60, 60, OK)
    spans = [Span(at(ON, 9), at(ON, 10, 1), "image")]
    assert states({ON: day(ON, 61)}, spans)["break_after_minutes"].state == BREACH


@pytest.mark.parametrize(
    ("last_end", "state"), [(at(ON, 15, 59), OK), (at(ON, 16), OK), (at(ON, 16, 1), BREACH)]
)
def test_latest_end_of_viewing(last_end: datetime, state: str) -> None:
    assert states({ON: day(ON, 60, last_end=last_end)})["latest_end"].state == state


def test_viewing_into_the_next_day_breaks_the_cut_off() -> None:
    result = states({ON: day(ON, 60, last_end=at(ON + timedelta(days=1), 0))})["latest_end"]
    assert result.used == 1440
    assert result.state == BREACH


@pytest.mark.parametrize(("streak", "state"), [(3, OK), (4, OK), (5, OK), (6, BREACH)])
def test_consecutive_viewing_days(streak: int, state: str) -> None:
    days = {ON - timedelta(days=n): day(ON - timedelta(days=n), 30) for n in range(streak)}
    days[ON - timedelta(days=streak + 1)] = day(
        ON - timedelta(days=streak + 1), 30
    )  # after a day off
    result = states(days)["max_consecutive_days"]
    assert result.used == streak
    assert result.state == state


def test_forbidden_media_is_a_breach_from_the_first_minute() -> None:
    policy = rules.effective_policy(
        FORCE, None, [RestrictionLayer(id=1, forbidden_media=frozenset({"video"}))]
    )
    spans = [Span(at(ON, 9), at(ON, 9, 1), "video"), Span(at(ON, 10), at(ON, 11), "image")]
    result = states({ON: day(ON, 61)}, spans, policy)["forbidden_media"]
    assert (result.used, result.state, result.source) == (1, BREACH, "restriction")
    clean = states({ON: day(ON, 60)}, spans[1:], policy)["forbidden_media"]
    assert clean.state == OK


def test_next_break_counts_viewing_a_short_pause_did_not_separate() -> None:
    policy = rules.effective_policy(FORCE)
    earlier = [Span(at(ON, 9), at(ON, 9, 40), "image")]
    assert rules.next_break_due_at(earlier, at(ON, 9, 45), policy) == at(ON, 10)
    assert rules.next_break_due_at(earlier, at(ON, 9, 50), policy) == at(ON, 10, 50)


# --- The sweep's shortcuts agree with the full rules -------------------------------------


@given(st.sets(st.integers(min_value=0, max_value=28)))
def test_streak_from_a_mask_counts_like_the_days(viewing: set[int]) -> None:
    days = {ON - timedelta(days=n): day(ON - timedelta(days=n), 30) for n in viewing}
    mask = sum(1 << n for n in viewing)
    assert rules.streak_from_mask(mask) == rules.consecutive_days(days, ON)


@given(
    st.lists(st.tuples(st.integers(0, 86_000), st.integers(1, 7_200)), min_size=0, max_size=6),
    st.integers(min_value=1, max_value=60),
)
def test_longest_run_matches_the_merged_blocks(parts: list[tuple[int, int]], gap: int) -> None:
    spans = [
        Span(at(ON, 0) + timedelta(seconds=s), at(ON, 0) + timedelta(seconds=s + n))
        for s, n in parts
    ]
    blocks = rules.continuous_blocks(spans, timedelta(minutes=gap))
    expected = max(((e - s).total_seconds() for s, e in blocks), default=0.0)
    numeric = rules.longest_run_seconds(((s, s + n) for s, n in parts), gap * 60)
    assert numeric == pytest.approx(expected)


usages = st.builds(
    rules.Usage,
    day_seconds=st.floats(0, 40_000),
    week_seconds=st.floats(0, 200_000),
    rolling_28d_seconds=st.floats(0, 600_000),
    day_weighted=st.floats(0, 80_000),
    week_weighted=st.floats(0, 400_000),
    rolling_28d_weighted=st.floats(0, 1_200_000),
    consecutive_days=st.integers(0, 29),
    last_end=st.one_of(st.none(), st.sampled_from([at(ON, 12), at(ON, 16), at(ON, 16, 1)])),
    medium_seconds=st.dictionaries(st.sampled_from(["image", "video"]), st.floats(0, 9_000)),
)


@given(
    usage=usages,
    block=st.floats(0, 600),
    layer=st.builds(
        PolicyLayer,
        daily_minutes=st.one_of(st.none(), st.integers(30, 600)),
        week_index=st.one_of(st.none(), st.integers(100, 4000)),
        break_after_minutes=st.one_of(st.none(), st.integers(5, 240)),
        latest_end=st.one_of(st.none(), st.just(time(16, 0))),
        max_consecutive_days=st.one_of(st.none(), st.integers(1, 28)),
        warning_ratio=st.one_of(st.none(), st.floats(0.1, 1.0)),
    ),
    forbid=st.booleans(),
)
def test_needs_attention_is_exactly_any_limit_not_ok(
    usage: rules.Usage, block: float, layer: PolicyLayer, forbid: bool
) -> None:
    restrictions = [RestrictionLayer(id=1, forbidden_media=frozenset({"video"}))] if forbid else []
    policy = rules.effective_policy(FORCE, layer, restrictions)
    result = rules.evaluate(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    )
    assert rules.needs_attention(
        on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
    ) == any(s.state != OK for s in result)


spans_of_a_day = st.lists(st.tuples(st.floats(0, 80_000), st.floats(1, 4 * 3600)), max_size=6).map(
    lambda pairs: sorted([start, start + length] for start, length in pairs)
)


@given(
    usage=usages,
    spans=spans_of_a_day,
    layers=st.lists(
        st.builds(
            PolicyLayer,
            daily_minutes=st.one_of(st.none(), st.integers(30, 600)),
            rolling_28d_index=st.one_of(st.none(), st.integers(100, 4000)),
            break_after_minutes=st.one_of(st.none(), st.integers(5, 240)),
            break_minutes=st.one_of(st.none(), st.integers(1, 60)),
            latest_end=st.one_of(st.none(), st.sampled_from([time(12, 0), time(16, 0)])),
            max_consecutive_days=st.one_of(st.none(), st.integers(1, 28)),
            warning_ratio=st.one_of(st.none(), st.floats(0.1, 1.0)),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_the_attention_floor_never_hides_a_limit_needing_attention(
    usage: rules.Usage, spans: list[list[float]], layers: list[PolicyLayer]
) -> None:
    policies = [rules.effective_policy(FORCE, layer) for layer in layers]
    floor = rules.attention_floor(policies)
    run = rules.longest_run_seconds(spans, floor.break_gap_seconds)
    end = rules.latest_end_minutes(usage, ON, LONDON)
    for policy in policies:
        own_run = rules.longest_run_seconds(spans, policy.break_minutes * 60)
        if policy.break_after_minutes is not None:
            assert run >= own_run  # the floor's gap makes runs at least as long
        block = own_run / 60
        if rules.needs_attention(
            on=ON, usage=usage, longest_block_minutes=block, policy=policy, tz=LONDON
        ):
            assert oracles.meets_floor(floor, usage, run, end)


# --- Rules that used to live in the API ---------------------------------------------------


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "lifted", "active"),
    [
        (date(2027, 3, 1), None, False, True),
        (date(2027, 3, 1), date(2027, 3, 10), False, True),  # its last day
        (date(2027, 3, 1), date(2027, 3, 9), False, False),  # over
        (date(2027, 3, 11), None, False, False),  # not yet
        (date(2027, 3, 1), None, True, False),  # lifted
    ],
)
def test_a_restriction_is_active_from_its_first_to_its_last_day_unless_lifted(
    starts_on: date, ends_on: date | None, lifted: bool, active: bool
) -> None:
    today = date(2027, 3, 10)
    assert (
        rules.restriction_active(starts_on=starts_on, ends_on=ends_on, lifted=lifted, today=today)
        is active
    )


def test_weights_belong_to_the_force_policy_which_keeps_them() -> None:
    assert rules.policy_change_problems(is_force=True, changes={"weights": None}) == {
        "weights": rules.FORCE_POLICY_NEEDS_WEIGHTS
    }
    assert rules.policy_change_problems(is_force=False, changes={"weights": {"violent": 2}}) == {
        "weights": rules.WEIGHTS_FORCE_ONLY
    }
    assert rules.policy_change_problems(is_force=False, changes={"weights": None}) == {}
    assert rules.policy_change_problems(is_force=True, changes={"daily_minutes": 200}) == {}


def test_notes_are_read_by_the_officer_and_occupational_health_only() -> None:
    from welfare.core.roles import Role

    assert {Role.OFFICER, Role.OH} == rules.NOTE_READERS
