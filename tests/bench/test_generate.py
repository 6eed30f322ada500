"""The benchmark data generator, at a tiny size, so that it cannot rot."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.db import connection, transaction

from bench.generate import generate, unit_sizes
from tests import oracles
from tests.conftest import owner_session
from welfare.alerts.models import Alert
from welfare.checkins.models import CheckIn
from welfare.core.clock import local_zone
from welfare.exposure.models import (
    MONTHLY_COLUMNS,
    DailyTotal,
    ExposureSession,
    MonthlyTotal,
    WeeklyTotal,
)
from welfare.people.models import Officer, Posting, Unit

UNTIL = date(2027, 3, 5)


@pytest.fixture(autouse=True)
def _as_the_owner(db: None) -> Iterator[None]:
    """The generator bulk-loads as the database's owner (`make bench`), not as the app."""
    with owner_session():
        yield


def sessions_digest() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, officer_id, lineage, started_at, ended_at, material, category, violent,"
            " items_reviewed, client_ref FROM exposure_exposuresession ORDER BY id"
        )
        return hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()


def test_a_tiny_force_has_every_kind_of_row(db, clock) -> None:
    counts = generate(officers=30, years=0.3, seed=7, until=UNTIL)
    assert counts.officers == Officer.objects.count() == 30
    assert counts.units == Unit.objects.count() >= 1
    assert counts.postings == Posting.objects.count() >= 30
    assert counts.sessions == ExposureSession.objects.count() > 30 * 5
    assert counts.checkins == CheckIn.objects.count()
    assert counts.alerts == Alert.objects.count()
    assert ExposureSession.objects.filter(started_at__date__gt=UNTIL).count() == 0
    minutes = [
        (s.ended_at - s.started_at).total_seconds() / 60
        for s in ExposureSession.objects.only("started_at", "ended_at")
    ]
    assert min(minutes) >= 10
    assert max(minutes) <= 180
    assert {"image", "video"} <= set(ExposureSession.objects.values_list("material", flat=True))
    assert ExposureSession.objects.filter(violent=True).exists()


def test_daily_totals_equal_the_sum_of_sessions(db, clock) -> None:
    generate(officers=12, years=0.2, seed=3, until=UNTIL)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT officer_id, (started_at AT TIME ZONE %s)::date AS day,
                   SUM(EXTRACT(EPOCH FROM ended_at - started_at))::bigint, COUNT(*)
            FROM exposure_exposuresession WHERE state = 'current' GROUP BY 1, 2
            """,
            [str(local_zone())],
        )
        expected = {(o, d): (s, n) for o, d, s, n in cursor.fetchall()}
    stored = {
        (t.officer_id, t.day): (t.seconds, t.sessions)
        for t in DailyTotal.objects.filter(seconds__gt=0)
    }
    assert stored == expected
    assert len(stored) > 12 * 3
    weeks: dict[tuple[int, date], int] = {}
    for (officer, day), (seconds, _) in stored.items():
        key = (officer, day - timedelta(days=day.weekday()))
        weeks[key] = weeks.get(key, 0) + seconds
    weekly = {(w.officer_id, w.week): w.seconds for w in WeeklyTotal.objects.filter(seconds__gt=0)}
    assert weekly == weeks
    monthly = {
        (m.officer_id, m.month): {c: getattr(m, c) for c in MONTHLY_COLUMNS}
        for m in MonthlyTotal.objects.all()
    }
    assert monthly == oracles.monthly_sums(DailyTotal.objects.all(), MONTHLY_COLUMNS)


def test_the_same_seed_gives_the_same_data(db, clock) -> None:
    point = transaction.savepoint()
    generate(officers=10, years=0.1, seed=11, until=UNTIL)
    first = sessions_digest()
    transaction.savepoint_rollback(point)
    generate(officers=10, years=0.1, seed=11, until=UNTIL)
    assert sessions_digest() == first
    transaction.savepoint_rollback(point)
    generate(officers=10, years=0.1, seed=12, until=UNTIL)
    assert sessions_digest() != first


def test_unit_sizes_cover_every_officer() -> None:
    import random

    sizes = unit_sizes(1000, random.Random(1))
    assert sum(sizes) == 1000
    assert all(1 <= size <= 40 for size in sizes)
    assert max(sizes) > min(sizes)
