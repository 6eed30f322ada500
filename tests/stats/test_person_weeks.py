"""The person-weeks of the exposure table, against a plain count from the daily totals: weeks
cut by the range or by a change of posting come out as if every week were summed from its
days, and the weekly totals kept beside the daily totals add up to them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from tests.conftest import Cast
from welfare.exposure.models import DailyTotal, ExposurePolicy, WeeklyTotal
from welfare.exposure.services import exposure_log, policy_create_for_unit
from welfare.people.models import Posting
from welfare.people.services import posting_end, posting_start
from welfare.stats import rules, selectors

FEB = date(2027, 2, 1)  # a Monday


@pytest.fixture
def moves(cast: Cast, clock) -> Cast:
    """Every cast officer views daily from Fri 29 Jan to Sat 6 Mar 2027; a1 moves to unit B on
    a Wednesday, a2 on a Monday, b1 leaves on a Thursday; unit B has a weekly limit of 5 h."""
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    policy_create_for_unit(actor=cast.admin, unit=cast.unit_b, values={"week_minutes": 300})
    for n, officer in enumerate((cast.officer_a1, cast.officer_a2, cast.officer_b1)):
        day = date(2027, 1, 29)
        while day <= date(2027, 3, 6):
            minutes = 60 + (day.toordinal() * 37 + n * 53) % 200
            start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
            exposure_log(
                officer=officer,
                recorded_by=officer.user,
                started_at=start,
                ended_at=start + timedelta(minutes=minutes),
                material="image",
                category="C",
                client_ref=uuid.uuid4(),
            )
            day += timedelta(days=1)
    posting_start(
        actor=cast.admin,
        officer=cast.officer_a1,
        unit=cast.unit_b,
        started_on=FEB + timedelta(days=9),
    )
    posting_start(
        actor=cast.admin,
        officer=cast.officer_a2,
        unit=cast.unit_b,
        started_on=FEB + timedelta(days=14),
    )
    posting_end(
        actor=cast.admin,
        posting=Posting.objects.get(officer=cast.officer_b1, ended_on__isnull=True),
        ended_on=FEB + timedelta(days=17),
    )
    return cast


def expected(first: date, end: date) -> dict[tuple[Any, Any], tuple[int, float | None]]:
    """Person-weeks and the share over the limit per (unit name, month), each line and all,
    counted straight from the daily totals."""
    force = ExposurePolicy.objects.get(unit__isnull=True).week_minutes
    limits = {p.unit_id: p.week_minutes for p in ExposurePolicy.objects.filter(unit__isnull=False)}
    postings = list(Posting.objects.select_related("unit"))
    weeks: dict[tuple[int, str, date], int] = defaultdict(int)
    limit_of: dict[str, int] = {}
    for row in DailyTotal.objects.filter(day__gte=first, day__lt=end, seconds__gt=0):
        posted = [
            p
            for p in postings
            if p.officer_id == row.officer_id
            and p.started_on <= row.day
            and (p.ended_on is None or p.ended_on >= row.day)
        ]
        if not posted:
            continue
        unit = posted[0].unit
        limit_of[unit.name] = 60 * (limits.get(unit.id) or force)
        weeks[(row.officer_id, unit.name, row.day - timedelta(days=row.day.weekday()))] += (
            row.seconds
        )
    counts: dict[tuple[Any, Any], list[int]] = defaultdict(lambda: [0, 0])
    for (_, unit, monday), seconds in weeks.items():
        month = monday.strftime("%Y-%m")
        for key in ((unit, month), (unit, None), (None, month), (None, None)):
            counts[key][0] += 1
            counts[key][1] += seconds > limit_of[unit]
    return {k: (n, 100.0 * over / n) for k, (n, over) in counts.items()}


def unprotected(monkeypatch, first: date, end: date) -> pd.DataFrame:
    def as_is(frame: pd.DataFrame, **_: Any) -> pd.DataFrame:
        return frame.assign(**{rules.SUPPRESSED: False})

    monkeypatch.setattr(selectors.rules, "protect", as_is)
    return selectors.exposure_table(["unit", "month"], first, end, rules.Protection(k=5)).frame


@pytest.mark.parametrize(
    ("first", "end"),
    [
        (date(2027, 1, 1), date(2027, 4, 1)),  # whole months; the first week starts in December
        (date(2027, 2, 1), date(2027, 3, 1)),  # February 2027 starts on a Monday
        (date(2027, 2, 4), date(2027, 2, 23)),  # a Thursday to a Tuesday: both ends cut weeks
        (date(2027, 2, 11), date(2027, 2, 13)),  # no whole week at all
    ],
)
def test_person_weeks_match_a_count_from_the_days(moves: Cast, monkeypatch, first, end) -> None:
    frame = unprotected(monkeypatch, first, end)
    want = expected(first, end)
    assert len(frame)
    for row in frame.itertuples():
        key = (None if pd.isna(row.unit) else row.unit, None if pd.isna(row.month) else row.month)
        n, share = want.get(key, (None, None))
        assert row.person_weeks == n, key
        assert float(row.weeks_over_limit_pct) == pytest.approx(share), key
    assert 0 < want[(None, None)][1] < 100  # some weeks over a limit, not all


def test_weekly_totals_are_the_sums_of_the_days(moves: Cast) -> None:
    sums: dict[tuple[int, date], int] = defaultdict(int)
    for row in DailyTotal.objects.all():
        sums[(row.officer_id, row.day - timedelta(days=row.day.weekday()))] += row.seconds
    stored = {(w.officer_id, w.week): w.seconds for w in WeeklyTotal.objects.all()}
    assert stored == sums
