"""The exposure table reads a person's month from the monthly totals when the month lies wholly
in the range under one posting, and from its days otherwise. Against the same statement
reading every day from the daily totals (the formulation before monthly totals, kept here as
the oracle) and against plain sums in Python: postings starting and ending mid-month, moves
between units, days with no posting, ranges on and off month starts, every grouping."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cast, make_user
from welfare.core.clock import local_zone
from welfare.core.roles import Role
from welfare.exposure import selectors
from welfare.exposure.models import DailyTotal, ExposureSession, MonthlyTotal
from welfare.exposure.rules import DEFAULT_WEIGHTS
from welfare.exposure.selectors import ExposureStats, exposure_stats
from welfare.exposure.services import policy_create_for_unit
from welfare.exposure.totals import rebuild
from welfare.people.models import Officer, Posting, Unit, UnitKind
from welfare.people.services import officer_create, unit_create

VIEWING = (date(2026, 9, 1), date(2027, 3, 1))  # the days with viewing: [first, end)
GROUPINGS = [
    *(["unit"], ["unit_kind"], ["month"], ["quarter"]),
    *([a, b] for a in ("unit", "unit_kind") for b in ("month", "quarter")),
]


def _daily_person_months(sums: Sequence[str]) -> str:
    """The oracle: every person's sums per unit and month in one pass over the daily totals,
    each day in the unit of its posting (the statement as it was before monthly totals)."""
    return f"""
        person_months AS MATERIALIZED (
            SELECT t.officer_id, p.unit_id, date_trunc('month', t.day::timestamp)::date AS month,
                   {", ".join(f"SUM(t.{c}::float8) AS {c}" for c in sums)}
            FROM exposure_dailytotal t
            JOIN people_posting p ON p.officer_id = t.officer_id
             AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
            WHERE t.day >= %(first)s AND t.day < %(end)s AND t.seconds > 0
            GROUP BY t.officer_id, p.unit_id, 3
        )"""


@pytest.fixture
def people(cast: Cast, clock) -> list[Officer]:
    """The cast's officers and three more; a third unit of another kind, with a weekly limit
    some weeks go over."""
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    unit = unit_create(actor=cast.admin, name="Unit C", kind=UnitKind.ONLINE_CSE)
    policy_create_for_unit(actor=cast.admin, unit=unit, values={"week_minutes": 300})
    more = [
        officer_create(
            actor=cast.admin,
            user=make_user(f"months.{n}", Role.OFFICER),
            staff_number=f"M{n:04d}",
            display_name=f"Person {n}",
            unit=cast.unit_a,
            posted_since=date(2026, 1, 1),
        )
        for n in range(3)
    ]
    return [cast.officer_a1, cast.officer_a2, cast.officer_b1, *more]


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _postings(rng: random.Random, units: list[Unit]) -> list[tuple[Unit, date, date | None]]:
    """One officer's postings over the viewing days and around them: lengths of days to
    months, some on month boundaries, some moves with a gap of days under no posting."""
    postings: list[tuple[Unit, date, date | None]] = []
    day = VIEWING[0] - timedelta(days=rng.randint(-20, 40))
    while day < VIEWING[1]:
        end = day + timedelta(days=rng.choice([rng.randint(2, 25), rng.randint(25, 100)]))
        if rng.random() < 0.3:
            end = _month_after(end) - timedelta(days=1)  # ends on a month's last day
        postings.append((rng.choice(units), day, end))
        day = end + timedelta(days=1 if rng.random() < 0.6 else rng.randint(2, 12))
        if rng.random() < 0.2:
            day = _month_after(day)  # starts on the first of a month
    if rng.random() < 0.5:
        postings[-1] = (*postings[-1][:2], None)
    return postings


def _sessions(rng: random.Random, officer: Officer) -> list[ExposureSession]:
    """Viewing on most days, now and then across local midnight (the last night of a
    month, too), of every medium and category."""
    zone, now = local_zone(), datetime(2027, 3, 10, 18, tzinfo=UTC)
    sessions = []
    day = VIEWING[0]
    while day < VIEWING[1]:
        starts = []
        if rng.random() < 0.6:
            starts.append((time(9, rng.randint(0, 59)), rng.randint(10, 240)))
        if rng.random() < 0.1 or ((day + timedelta(days=1)).day == 1 and rng.random() < 0.5):
            starts.append((time(23, 10), rng.randint(30, 110)))  # into the next day
        for at, minutes in starts:
            start = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
            sessions.append(
                ExposureSession(
                    officer=officer,
                    started_at=start,
                    ended_at=start + timedelta(minutes=minutes),
                    material=rng.choice(["image", "video", "video_with_audio", "audio", "live"]),
                    category=rng.choice(["A", "B", "C", "none", "unknown"]),
                    violent=rng.random() < 0.2,
                    recorded_at=now,
                    recorded_by_id=officer.user_id,
                )
            )
        day += timedelta(days=1)
    return sessions


def _history(seed: int, officers: list[Officer]) -> None:
    """Postings and sessions drawn from `seed`; the totals built by the service's statement."""
    rng = random.Random(seed)
    units = list(Unit.objects.order_by("id"))
    for officer in officers:
        (first, *others) = _postings(rng, units)
        Posting.objects.filter(officer=officer).update(
            unit=first[0], started_on=first[1], ended_on=first[2]
        )
        for unit, started_on, ended_on in others:
            Posting.objects.create(
                officer=officer,
                unit=unit,
                started_on=started_on,
                ended_on=ended_on,
                created_at=datetime(2027, 3, 10, 18, tzinfo=UTC),
            )
        ExposureSession.objects.bulk_create(_sessions(rng, officer))
    rebuild(weights=DEFAULT_WEIGHTS, officer_ids=[o.pk for o in officers])


def _records(frame: Any) -> list[tuple[Any, ...]]:
    """A frame's rows as tuples, a missing value as None (NaN is not equal to itself)."""
    return [
        tuple(None if pd.isna(v) else v for v in row)
        for row in frame.itertuples(index=False, name=None)
    ]


def _keyed(frame: Any, n_keys: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = _records(frame)
    table = {tuple(row[:n_keys]): tuple(row[n_keys:]) for row in rows}
    assert len(table) == len(rows)
    return table


def _same(got: ExposureStats, want: ExposureStats, dims: Sequence[str]) -> None:
    mine, theirs = _keyed(got.table, len(dims)), _keyed(want.table, len(dims))
    assert mine.keys() == theirs.keys()
    for key, figures in theirs.items():
        expected = [
            pytest.approx(float(v), rel=1e-9, abs=1e-9) if isinstance(v, float | Decimal) else v
            for v in figures
        ]
        figures = tuple(float(v) if isinstance(v, Decimal) else v for v in mine[key])
        assert list(figures) == expected, (dims, key, got.table.columns)
    assert got.people.keys() == want.people.keys()
    for grouping, rows in want.people.items():
        assert sorted(_records(got.people[grouping]), key=repr) == sorted(_records(rows), key=repr)


def _hours_by_unit_and_month(first: date, end: date) -> dict[tuple[str, str], tuple[int, float]]:
    """People and hours per (unit, month), summed in Python from the daily totals."""
    postings = list(Posting.objects.select_related("unit"))
    cells: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [set(), 0])
    for row in DailyTotal.objects.filter(day__gte=first, day__lt=end, seconds__gt=0):
        unit = next(
            (
                p.unit.name
                for p in postings
                if p.officer_id == row.officer_id
                and p.started_on <= row.day
                and (p.ended_on is None or row.day <= p.ended_on)
            ),
            None,
        )
        if unit is not None:
            cell = cells[(unit, row.day.strftime("%Y-%m"))]
            cell[0].add(row.officer_id)
            cell[1] += row.seconds
    return {key: (len(people), seconds / 3600) for key, (people, seconds) in cells.items()}


@st.composite
def ranges(draw: st.DrawFn) -> tuple[date, date]:
    """Any days, or whole months, or whole quarters, in and around the viewing days."""
    first = VIEWING[0] + timedelta(days=draw(st.integers(-40, 170)))
    end = first + timedelta(days=draw(st.integers(1, 230)))
    snap = draw(st.sampled_from(["day", "month", "quarter"]))
    if snap == "month":
        first, end = first.replace(day=1), end.replace(day=1) + timedelta(days=31)
        end = end.replace(day=1)
    elif snap == "quarter":
        first = date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
        end = date(end.year + (end.month > 9), 3 * ((end.month - 1) // 3 + 1) % 12 + 1, 1)
    return first, end


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32), spans=st.lists(ranges(), min_size=2, max_size=2))
def test_the_table_from_monthly_totals_is_the_table_from_the_days(
    people: list[Officer], seed: int, spans: list[tuple[date, date]]
) -> None:
    with transaction.atomic():
        _history(seed, people)
        assert MonthlyTotal.objects.exists()
        for first, end in spans:
            for dims in GROUPINGS:
                others = [g for g in GROUPINGS if len(g) == 2 and g != dims][:2]
                got = exposure_stats(dims, first, end, people_of=others)
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(selectors, "_person_months", _daily_person_months)
                    want = exposure_stats(dims, first, end, people_of=others)
                _same(got, want, dims)
            table = exposure_stats(["unit", "month"], first, end).table
            at = {c: n for n, c in enumerate(table.columns)}
            cells = {
                (row[0], row[1]): (row[at["people"]], pytest.approx(float(row[at["hours"]])))
                for row in _records(table)
                if row[0] is not None and row[1] is not None
            }
            assert cells == _hours_by_unit_and_month(first, end)
        transaction.set_rollback(True)
