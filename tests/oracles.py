"""Reference models the tests check the service against: what a SQL statement or a
database-side filter computes, written plainly in Python (the service itself does not call
them), and a webhook receiver's signature check."""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from welfare.alerts.rules import WorkingCalendar, signature
from welfare.exposure.rules import (
    AttentionFloor,
    DayTotal,
    Usage,
    Weights,
    consecutive_days,
)
from welfare.stats.rules import ROUNDING


def window_sum(days: Mapping[date, DayTotal], on: date, length: int, attr: str) -> float:
    return float(
        sum(
            getattr(days[day], attr)
            for day in (on - timedelta(days=n) for n in range(length))
            if day in days
        )
    )


def working_hours_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Working time from `start` to `end` (zero when `end` is not after `start`)."""
    total = timedelta(0)
    if end <= start:
        return total
    day = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    while day <= last:
        if calendar.works_on(day):
            opens, closes = calendar.span(day)
            begin, finish = max(opens, start.astimezone(UTC)), min(closes, end.astimezone(UTC))
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return total


def verify_signature(secret: str, body: bytes, timestamp: str, header: str) -> bool:
    expected = "sha256=" + signature(secret, body, timestamp)
    return hmac.compare_digest(expected, header)


def session_weight(material: str, category: str, violent: bool, weights: Weights) -> float:
    """Minutes x this = the weighted index: medium x category x (violent content)."""
    factor = weights.medium.get(material, 1.0) * weights.category.get(category, 1.0)
    return factor * (weights.violent if violent else 1.0)


def usage_from_days(days: Mapping[date, DayTotal], on: date) -> Usage:
    today = days.get(on)
    return Usage(
        day_seconds=window_sum(days, on, 1, "seconds"),
        week_seconds=window_sum(days, on, 7, "seconds"),
        rolling_28d_seconds=window_sum(days, on, 28, "seconds"),
        day_weighted=window_sum(days, on, 1, "weighted_seconds"),
        week_weighted=window_sum(days, on, 7, "weighted_seconds"),
        rolling_28d_weighted=window_sum(days, on, 28, "weighted_seconds"),
        consecutive_days=consecutive_days(days, on),
        last_end=today.last_end if today and today.seconds else None,
        medium_seconds=dict(today.medium_seconds) if today else {},
    )


def meets_floor(
    floor: AttentionFloor, usage: Usage, longest_run: float, latest_end_minutes: float
) -> bool:
    """The floor's test (the database runs the same comparisons). `longest_run`: the
    day's `longest_run_seconds(spans, floor.break_gap_seconds)`."""
    return (
        any(getattr(usage, attr) >= least for attr, least in floor.windows.items())
        or longest_run >= floor.block_seconds
        or usage.consecutive_days >= floor.streak
        or latest_end_minutes > floor.latest_end_minutes
    )


def round_count(value: float, base: int = ROUNDING) -> int:
    """Down to a multiple of `base`: a published 10 means 10 to 14."""
    return int(math.floor(value / base) * base)


def monthly_sums(days: Iterable[Any], columns: Sequence[str]) -> dict[tuple[int, date], dict]:
    """What each (officer, month) of monthly totals holds: the sums of `columns` over the
    month's daily totals (rows with `officer_id` and `day`); float sums (the weighted index)
    to their last bits, as the order of adding may differ."""
    months: dict[tuple[int, date], dict] = {}
    for row in days:
        month = months.setdefault(
            (row.officer_id, row.day.replace(day=1)), dict.fromkeys(columns, 0)
        )
        for column in columns:
            month[column] += getattr(row, column)
    return {
        key: {c: pytest.approx(v) if isinstance(v, float) else v for c, v in sums.items()}
        for key, sums in months.items()
    }
