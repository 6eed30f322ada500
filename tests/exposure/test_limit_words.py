"""Limits in words: what officers and supervisors read, with clock times, never codes."""

from __future__ import annotations

from welfare.exposure.rules import (
    BREACH,
    OK,
    WARNING,
    LimitState,
    clock_time,
    headline,
    limit_in_words,
)


def state(rule: str, used: float, limit: float, st: str, unit: str = "minutes") -> LimitState:
    return LimitState(rule, "day", unit, used, limit, limit, st, "force")


def test_minutes_against_a_limit() -> None:
    assert (
        limit_in_words(state("week_minutes", 1332.4, 1500, WARNING))
        == "Last 7 days: 1,332 of 1,500 minutes, near the limit"
    )
    assert limit_in_words(state("daily_minutes", 250, 240, BREACH)) == (
        "Today: 250 of 240 minutes, over the limit"
    )


def test_a_cut_off_is_clock_times_not_minutes_since_midnight() -> None:
    late = state("latest_end", 735, 720, BREACH, unit="minutes_after_midnight")
    assert limit_in_words(late) == "Latest viewing today: 12:15, after the 12:00 cut-off"
    assert "735" not in headline([late])
    assert clock_time(0) == "00:00"
    assert clock_time(1439.9) == "23:59"
    assert clock_time(1500) == "24:00"


def test_the_headline_names_what_is_over_and_agrees_with_the_states() -> None:
    ok = state("daily_minutes", 30, 240, OK)
    late = state("latest_end", 1335, 1260, BREACH, unit="minutes_after_midnight")
    near = state("week_minutes", 1300, 1500, WARNING)
    assert headline([ok]) == "All your limits are within bounds today."
    assert headline([ok, near]) == "Near a limit: Last 7 days: 1,300 of 1,500 minutes."
    said = headline([ok, near, late])
    assert said.startswith("Over the limit: Latest viewing today: 22:15, after the 21:00 cut-off")
    assert "Last 7 days" not in said  # what is over comes first, alone


def test_pattern_rules_in_words() -> None:
    stretch = state("break_after_minutes", 75, 60, BREACH)
    assert limit_in_words(stretch) == (
        "Longest stretch without a break: 75 minutes (a break is due after 60), over the limit"
    )
    days = state("max_consecutive_days", 7, 6, BREACH, unit="days")
    assert limit_in_words(days) == "Days viewing in a row: 7 of at most 6, over the limit"
    assert "_" not in limit_in_words(state("forbidden_media", 12, 0, BREACH))


def test_every_phrase_goes_through_say() -> None:
    """A translation function sees each fixed phrase (and the figures stay figures)."""
    seen: list[str] = []

    def say(text: str) -> str:
        seen.append(text)
        return (
            text.upper()
            .replace("{NAME}", "{name}")
            .replace("{USED}", "{used}")
            .replace("{LIMIT}", "{limit}")
            .replace("{TEXT}", "{text}")
            .replace("{STATE}", "{state}")
            .replace("{WHAT}", "{what}")
            .replace("{DETAILS}", "{details}")
        )

    said = headline([state("daily_minutes", 250, 240, BREACH)], say=say)
    assert said == "OVER THE LIMIT: TODAY: 250 OF 240 MINUTES."
    assert "Today" in seen


def test_a_short_pause_keeps_one_session_and_a_break_starts_another() -> None:
    from datetime import UTC, datetime, timedelta

    from welfare.exposure.rules import timer_sessions

    t = datetime(2027, 3, 10, 9, tzinfo=UTC)
    minute = timedelta(minutes=1)
    three_seconds = [
        (t, t + 20 * minute),
        (t + 20 * minute + timedelta(seconds=3), t + 50 * minute),
    ]
    assert timer_sessions(three_seconds, 10) == [(t, t + 50 * minute)]
    with_break = [(t, t + 20 * minute), (t + 30 * minute, t + 40 * minute)]
    assert timer_sessions(with_break, 10) == with_break  # exactly a break: two sessions
    nearly = [(t + 29 * minute, t + 40 * minute), (t, t + 20 * minute)]  # any order
    assert timer_sessions(nearly, 10) == [(t, t + 40 * minute)]
    assert timer_sessions([], 10) == []


def test_a_merged_session_is_never_longer_than_a_session_may_be() -> None:
    from datetime import UTC, datetime, timedelta

    from welfare.exposure.rules import timer_sessions

    t = datetime(2027, 3, 10, 6, tzinfo=UTC)
    hour = timedelta(hours=1)
    pause = timedelta(minutes=1)
    segments = [(t, t + 5 * hour), (t + 5 * hour + pause, t + 9 * hour)]
    assert timer_sessions(segments, 10, longest=8 * hour) == segments
    assert timer_sessions(segments, 10, longest=12 * hour) == [(t, t + 9 * hour)]
