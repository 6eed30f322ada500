from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.people.rules import (
    POSTING_ALREADY_ENDED,
    POSTING_END_BEFORE_START,
    POSTING_OVERLAPS_EARLIER,
    POSTING_START_NOT_AFTER_OPEN,
    PostingSpan,
    end_error,
    is_current,
    plan_new_posting,
)

D = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("span", "today", "current"),
    [
        (PostingSpan(D, None), D, True),
        (PostingSpan(D, None), D - timedelta(days=1), False),
        (PostingSpan(D, D), D, True),
        (PostingSpan(D - timedelta(days=10), D - timedelta(days=1)), D, False),
    ],
)
def test_is_current(span: PostingSpan, today: date, current: bool) -> None:
    assert is_current(span, today) is current


def test_plan_new_posting() -> None:
    assert plan_new_posting(open_posting=None, latest_closed_end=None, start=D) == (None, None)
    assert plan_new_posting(
        open_posting=PostingSpan(D, None), latest_closed_end=None, start=D + timedelta(days=1)
    ) == (D, None)
    assert plan_new_posting(open_posting=PostingSpan(D, None), latest_closed_end=None, start=D) == (
        None,
        POSTING_START_NOT_AFTER_OPEN.format(started_on=D),
    )
    assert plan_new_posting(open_posting=None, latest_closed_end=D, start=D) == (
        None,
        POSTING_OVERLAPS_EARLIER.format(ended_on=D),
    )


def test_end_error() -> None:
    assert end_error(PostingSpan(D, None), D) is None
    assert end_error(
        PostingSpan(D, None), D - timedelta(days=1)
    ) == POSTING_END_BEFORE_START.format(started_on=D)
    assert end_error(PostingSpan(D, D), D) == POSTING_ALREADY_ENDED


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.integers(min_value=1, max_value=5000),
)
def test_a_planned_posting_never_overlaps_the_open_one(start: date, gap: int) -> None:
    new_start = start + timedelta(days=gap)
    end_open_on, error = plan_new_posting(
        open_posting=PostingSpan(start, None), latest_closed_end=None, start=new_start
    )
    assert error is None
    assert end_open_on is not None
    assert start <= end_open_on < new_start
    assert (new_start - end_open_on).days == 1
