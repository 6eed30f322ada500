"""Daily totals kept by PostgreSQL agree with the rules; the summary reads them."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import oracles
from tests.conftest import Cast, client_for, field_errors, owner_session
from welfare.core import clock as clock_module
from welfare.core.errors import DomainError
from welfare.exposure import rules
from welfare.exposure.api import RUNNING_WINDOW
from welfare.exposure.models import (
    MEDIUM_COLUMNS,
    MONTHLY_COLUMNS,
    DailyTotal,
    ExposureSession,
    MonthlyTotal,
    WeeklyTotal,
)
from welfare.exposure.selectors import limit_inputs, limit_states
from welfare.exposure.services import DEFAULT_WEIGHTS, exposure_amend, exposure_log, exposure_void
from welfare.exposure.totals import rebuild

LONDON = ZoneInfo("Europe/London")


def log(
    cast: Cast,
    start: datetime,
    minutes: float,
    *,
    officer=None,
    material="image",
    category="C",
    violent=False,
):
    officer = officer or cast.officer_a1
    start = start.astimezone(UTC)  # add minutes in real time, not wall-clock time
    return exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material=material,
        category=category,
        violent=violent,
        client_ref=uuid.uuid4(),
    ).session


def local(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def evening(clock):
    """The cast's day, at 18:00, after the day's viewing."""
    clock.set(datetime(2027, 3, 10, 18, tzinfo=UTC))
    return clock


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=20 * 24 * 60),  # minute offset within 20 days
            st.integers(
                min_value=1, max_value=26 * 60
            ),  # duration in minutes (some over a day: refused)
            st.sampled_from(["image", "video", "live", "text"]),
            st.sampled_from(["A", "B", "C", "unknown"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_daily_totals_equal_the_rules_split(cast: Cast, sessions: list) -> None:
    """Across the 2027 spring clock change: sums per local day match split_by_local_day."""
    clock_module.freeze(datetime(2027, 4, 30, tzinfo=UTC))
    base = datetime(2027, 3, 20, tzinfo=UTC)
    savepoint = transaction.savepoint()
    try:
        expected_seconds: dict[date, float] = {}
        expected_weighted: dict[date, float] = {}
        for offset, minutes, material, category, violent in sessions:
            start = base + timedelta(minutes=offset)
            if minutes > 24 * 60:
                continue
            try:
                with transaction.atomic():
                    log(cast, start, minutes, material=material, category=category, violent=violent)
            except DomainError:  # overlaps are refused; they must not count
                continue
            weight = oracles.session_weight(material, category, violent, DEFAULT_WEIGHTS)
            for day, seconds in rules.split_by_local_day(
                start, start + timedelta(minutes=minutes), LONDON
            ):
                expected_seconds[day] = expected_seconds.get(day, 0) + seconds
                expected_weighted[day] = expected_weighted.get(day, 0) + seconds * weight
        stored = {row.day: row for row in DailyTotal.objects.filter(officer=cast.officer_a1)}
        assert {d for d, row in stored.items() if row.seconds} == set(expected_seconds)
        for day, seconds in expected_seconds.items():
            assert stored[day].seconds == seconds
            assert stored[day].weighted_seconds == pytest.approx(expected_weighted[day])
        check_limit_inputs_against_the_days(cast, stored)
    finally:
        transaction.savepoint_rollback(savepoint)


def check_limit_inputs_against_the_days(cast: Cast, stored: dict[date, DailyTotal]) -> None:
    """The one-query-per-day windows the sweep reads equal the rules' own sums over the
    days, and the spans kept on each day give the same longest block as the sessions."""
    officer = cast.officer_a1
    days = {
        d: rules.DayTotal(d, row.seconds, row.weighted_seconds, row.first_start, row.last_end)
        for d, row in stored.items()
    }
    probe = [date(2027, 3, 19) + timedelta(days=n) for n in range(0, 24, 3)]
    inputs = limit_inputs({officer.pk: probe})
    sessions = list(ExposureSession.objects.filter(officer=officer, state="current"))
    for on in probe:
        data = inputs[(officer.pk, on)]
        expected = oracles.usage_from_days(days, on)
        for name in ("day_seconds", "week_seconds", "rolling_28d_seconds", "consecutive_days"):
            assert getattr(data.usage, name) == getattr(expected, name), (on, name)
        for name in ("day_weighted", "week_weighted", "rolling_28d_weighted"):
            assert getattr(data.usage, name) == pytest.approx(getattr(expected, name))
        lo = rules.local_midnight(on, LONDON)
        hi = rules.local_midnight(on + timedelta(days=1), LONDON)
        spans = [
            rules.Span(max(s.started_at, lo), min(s.ended_at, hi))
            for s in sessions
            if s.started_at < hi and s.ended_at > lo
        ]
        gap = timedelta(minutes=data.policy.break_minutes)
        assert data.longest_block_minutes() == pytest.approx(
            rules.longest_block_minutes(spans, gap)
        )
    # The database's attention floor lets through exactly the days with a limit not ok.
    everything = limit_states({officer.pk: probe})
    expected = {
        key: [state for state in states if state.state != rules.OK]
        for key, states in everything.items()
        if any(state.state != rules.OK for state in states)
    }
    assert limit_states({officer.pk: probe}, only_attention=True) == expected


def test_clock_change_days_in_the_database(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 11, 5, tzinfo=UTC))
    log(cast, local(date(2027, 3, 27), 23), 24 * 60)  # 23:00 GMT Sat to 00:00 BST Mon: 24 h
    log(cast, local(date(2027, 10, 30), 23), 24 * 60)  # 23:00 BST Sat to 22:00 GMT Sun
    seconds = dict(DailyTotal.objects.filter(officer=cast.officer_a1).values_list("day", "seconds"))
    assert seconds[date(2027, 3, 27)] == 3600
    assert seconds[date(2027, 3, 28)] == 23 * 3600
    assert seconds[date(2027, 10, 30)] == 3600
    assert seconds[date(2027, 10, 31)] == 23 * 3600


def test_summary_totals_and_states(cast: Cast, evening) -> None:
    today = evening.today()
    for n in range(6):  # six days in a row of 200 minutes
        d = today - timedelta(days=n)
        log(cast, local(d, 8), 100)
        log(cast, local(d, 10), 100, material="video", category="A")
    body = (
        client_for(cast.officer_a1.user)
        .get(f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary?on={today.isoformat()}")
        .json()
    )
    assert body["officer"] == cast.officer_a1.pk
    assert body["on"] == today.isoformat()
    assert body["day_minutes"] == 200
    assert body["week_minutes"] == 1200
    assert body["rolling_28d_minutes"] == 1200
    assert body["weighted_index"] == pytest.approx(100 + 100 * 1.5 * 1.5)
    limits = body["limits"]
    assert limits["daily_minutes"] == {
        "rule": "daily_minutes",
        "period": "day",
        "unit": "minutes",
        "used": 200.0,
        "limit": 300.0,
        "warning_at": 240.0,
        "state": "ok",
        "source": "force",
    }
    assert limits["week_minutes"]["state"] == "warning"  # 1,200 of 1,500: the 80% point
    assert limits["max_consecutive_days"]["used"] == 6
    assert limits["max_consecutive_days"]["state"] == "breach"
    # Each 100-minute stretch also went past an hour without a break.
    assert [b["rule"] for b in body["breaches"]] == ["break_after_minutes", "max_consecutive_days"]
    assert body["next_break_due_at"] is None


def test_summary_for_a_past_day_and_default_today(cast: Cast, clock) -> None:
    log(cast, local(date(2027, 2, 1), 9), 320)
    officer = client_for(cast.officer_a1.user)
    past = officer.get(
        f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary?on=2027-02-01"
    ).json()
    assert past["day_minutes"] == 320
    assert past["limits"]["daily_minutes"]["state"] == "breach"
    now = officer.get(f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary").json()
    assert now["on"] == clock.today().isoformat()
    assert now["day_minutes"] == 0


def test_summary_with_a_running_session_gives_the_break_time(cast: Cast, clock) -> None:
    log(cast, clock.now() - timedelta(minutes=50), 45)  # ended five minutes ago
    running = (clock.now() - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    body = (
        client_for(cast.officer_a1.user)
        .get(f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary?running_since={running}")
        .json()
    )
    # The five-minute pause was no break: the hour started fifty minutes ago.
    assert body["next_break_due_at"] == (clock.now() + timedelta(minutes=10)).isoformat().replace(
        "+00:00", "Z"
    )
    assert body["day_minutes"] == 46


def test_summary_shows_a_restriction_as_a_limit(cast: Cast, evening) -> None:
    oh = client_for(cast.oh1)
    created = oh.post(
        "/api/v1/restrictions/",
        {
            "officer": cast.officer_a1.pk,
            "starts_on": "2027-03-01",
            "ends_on": "2027-04-01",
            "daily_minutes": 120,
            "forbidden_media": ["video"],
            "reason": "CLINICAL-MARKER",
        },
        format="json",
    )
    assert created.status_code == 201
    log(cast, local(evening.today(), 8), 90, material="video")
    for user in (cast.supervisor_a, cast.officer_a1.user):
        response = client_for(user).get(f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary")
        assert b"CLINICAL-MARKER" not in response.content
        body = response.json()
        assert body["limits"]["daily_minutes"]["limit"] == 120
        assert body["limits"]["daily_minutes"]["source"] == "restriction"
        assert body["limits"]["forbidden_media"]["state"] == "breach"
        listed = client_for(user).get(f"/api/v1/restrictions/?officer={cast.officer_a1.pk}")
        assert b"CLINICAL-MARKER" not in listed.content
        assert listed.json()["results"][0]["reason"] is None
    assert (
        oh.get(f"/api/v1/restrictions/{created.json()['id']}/").json()["reason"]
        == "CLINICAL-MARKER"
    )


def test_summary_access(cast: Cast) -> None:
    url = f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary"
    assert client_for(cast.officer_a2.user).get(url).status_code == 404
    assert client_for(cast.supervisor_b).get(url).status_code == 404
    assert client_for(cast.supervisor_a).get(url).status_code == 200
    assert client_for(cast.oh2).get(url).status_code == 200
    assert client_for(cast.hr).get(url).status_code == 403
    assert client_for(cast.admin).get(url).status_code == 403
    bad = client_for(cast.oh1).get(f"{url}?on=31/12/2027")
    assert bad.status_code == 400
    assert "on" in bad.json()
    assert client_for(cast.oh1).get(f"{url}?running_since=2027-03-10").status_code == 400


def test_summary_query_count_does_not_grow_with_history(
    cast: Cast, evening, django_assert_max_num_queries
) -> None:
    client = client_for(cast.officer_a1.user)
    url = f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary"
    for n in range(40):
        log(cast, local(evening.today() - timedelta(days=n), 9), 30)
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
    assert ExposureSession.objects.count() == 40


def weekly_as_summed(officer_id: int) -> tuple[dict[date, int], dict[date, int]]:
    """The officer's weekly totals as stored, and as the sums of their daily totals."""
    sums: dict[date, int] = {}
    for row in DailyTotal.objects.filter(officer_id=officer_id):
        monday = row.day - timedelta(days=row.day.weekday())
        sums[monday] = sums.get(monday, 0) + row.seconds
    stored = dict(WeeklyTotal.objects.filter(officer_id=officer_id).values_list("week", "seconds"))
    return stored, sums


def test_weekly_totals_follow_log_amend_void_and_rebuild(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 3, 20, 12, tzinfo=UTC))
    officer = cast.officer_a1
    sunday_night = log(cast, local(date(2027, 3, 14), 23), 120)  # Sunday into Monday
    log(cast, local(date(2027, 3, 12), 9), 45)
    stored, summed = weekly_as_summed(officer.pk)
    assert stored == summed == {date(2027, 3, 8): 45 * 60 + 3600, date(2027, 3, 15): 3600}

    later = exposure_amend(
        session=sunday_night,
        actor=officer.user,
        reason="started later",
        changes={"started_at": local(date(2027, 3, 15), 0, 30)},
    )
    stored, summed = weekly_as_summed(officer.pk)
    assert stored == summed
    assert stored[date(2027, 3, 8)] == 45 * 60

    exposure_void(session=later, actor=officer.user, reason="logged twice")
    stored, summed = weekly_as_summed(officer.pk)
    assert stored == summed
    assert stored[date(2027, 3, 15)] == 0

    rebuild(weights=DEFAULT_WEIGHTS)
    assert weekly_as_summed(officer.pk)[0] == stored


def months_as_summed() -> dict[tuple[int, date], dict[str, float]]:
    """Every officer's monthly totals as stored, checked against the sums of their daily
    totals (the weighted index, a float, to its last bits)."""
    summed = oracles.monthly_sums(DailyTotal.objects.all(), MONTHLY_COLUMNS)
    stored = {
        (m.officer_id, m.month): {c: getattr(m, c) for c in MONTHLY_COLUMNS}
        for m in MonthlyTotal.objects.all()
    }
    assert stored == summed
    return stored


def test_monthly_totals_follow_log_amend_void_import_and_rebuild(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 4, 10, 12, tzinfo=UTC))  # all within the officer's change window
    officer, march, april = cast.officer_a1, date(2027, 3, 1), date(2027, 4, 1)
    # Across local midnight at the month's end: 30 minutes in March, 60 in April.
    month_end = log(cast, local(date(2027, 3, 31), 23, 30), 90, material="video", violent=True)
    late_march = log(cast, local(date(2027, 3, 28), 9), 45, category="A")  # a 23-hour day
    early_april = log(cast, local(date(2027, 4, 2), 10), 60, material="text", category="B")
    log(cast, local(date(2027, 4, 2), 9), 20, officer=cast.officer_b1)
    months = months_as_summed()
    assert months[(officer.pk, march)]["seconds"] == 75 * 60
    assert months[(officer.pk, march)]["video_seconds"] == 30 * 60
    assert months[(officer.pk, april)]["violent_seconds"] == 60 * 60
    assert months[(cast.officer_b1.pk, april)]["seconds"] == 20 * 60

    later = exposure_amend(
        session=month_end,
        actor=officer.user,
        reason="started after midnight",
        changes={"started_at": local(april, 0, 30)},
    )
    assert months_as_summed()[(officer.pk, march)]["seconds"] == 45 * 60
    exposure_amend(
        session=late_march,
        actor=officer.user,
        reason="wrong month",
        changes={"started_at": local(date(2027, 4, 3), 9), "ended_at": local(date(2027, 4, 3), 10)},
    )
    months = months_as_summed()
    assert months[(officer.pk, march)]["seconds"] == 0
    assert months[(officer.pk, april)]["category_a_seconds"] == 3600

    exposure_void(session=early_april, actor=officer.user, reason="logged twice")
    exposure_void(session=later, actor=officer.user, reason="not viewed")
    assert months_as_summed()[(officer.pk, april)]["seconds"] == 3600  # the moved session

    imported = client_for(cast.supervisor_a).generic(
        "POST",
        "/api/v1/exposures/import",
        b"staff_number,started_at,ended_at,material,category,client_ref\n"
        b"T0001,2027-03-29T09:00:00+00:00,2027-03-29T09:40:00+00:00,live,none,row-1\n",
        content_type="text/csv",
    )
    assert imported.json()["created"] == 1
    assert months_as_summed()[(officer.pk, march)]["live_seconds"] == 40 * 60

    weighted = months_as_summed()[(officer.pk, march)]["weighted_seconds"]
    live_heavier = {**DEFAULT_WEIGHTS.medium, "live": 5.0}
    rebuild(weights=rules.Weights.from_json({**DEFAULT_WEIGHTS.to_json(), "medium": live_heavier}))
    assert months_as_summed()[(officer.pk, march)]["weighted_seconds"] > weighted
    rebuild(weights=DEFAULT_WEIGHTS, officer_ids=[officer.pk])
    assert months_as_summed()[(officer.pk, march)]["weighted_seconds"] == pytest.approx(weighted)


def test_the_migration_fills_the_monthly_totals_from_the_daily_totals(cast: Cast, clock) -> None:
    """Daily totals kept before there were monthly totals (written here without the totals'
    statement) are summed into their months by the migration."""
    migration = ("exposure", "0013_monthly_totals")
    backfill = importlib.import_module(f"welfare.exposure.migrations.{migration[1]}").backfill
    days = [
        (cast.officer_a1, date(2027, 1, 31), 600, "video", "A"),
        (cast.officer_a1, date(2027, 2, 1), 1200, "image", "C"),
        (cast.officer_a1, date(2027, 2, 28), 300, "video", "unknown"),
        (cast.officer_b1, date(2027, 2, 14), 900, "live", "none"),
        (cast.officer_b1, date(2027, 2, 15), 0, "live", "none"),
    ]
    DailyTotal.objects.bulk_create(
        DailyTotal(
            officer=officer,
            day=day,
            sessions=1,
            seconds=seconds,
            weighted_seconds=seconds * 1.1,
            violent_seconds=seconds // 3,
            **{MEDIUM_COLUMNS[medium]: seconds, f"category_{category.lower()}_seconds": seconds},
            updated_at=clock.now(),
        )
        for officer, day, seconds, medium, category in days
    )
    assert not MonthlyTotal.objects.exists()
    state = MigrationLoader(connection).project_state(migration)
    with owner_session(), connection.schema_editor() as editor:
        backfill(state.apps, editor)
    stored = months_as_summed()
    assert len(stored) == 3
    assert stored[(cast.officer_a1.pk, date(2027, 2, 1))]["video_seconds"] == 300


@pytest.mark.django_db
def test_the_databases_longest_run_is_the_rules() -> None:
    """welfare_longest_run (the sweep's floor, in SQL) computes rules.longest_run_seconds."""
    rng = Random(7)
    cases = [([], 600.0), ([[0.0, 60.0]], 0.0), ([[0.0, 60.0], [60.0, 120.0]], 0.0)]
    for _ in range(300):
        spans = sorted(
            [start, start + rng.uniform(1, 7200)]
            for start in (rng.uniform(0, 80_000) for _ in range(rng.randint(1, 6)))
        )
        cases.append((spans, rng.choice([0.0, 300.0, 600.0, 1800.0, rng.uniform(0, 3600)])))
    with connection.cursor() as cursor:
        for spans, gap in cases:
            cursor.execute("SELECT welfare_longest_run(%s::float8[], %s)", [spans, gap])
            (found,) = cursor.fetchone()
            assert found == pytest.approx(rules.longest_run_seconds(spans, gap)), (spans, gap)


def test_a_few_officers_window_finds_what_many_officers_window_does(
    cast: Cast, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window read has two forms (an index lookup of each officer's posting for a few
    officers, one pass over the postings for many); both give the same inputs, through a
    move between units and a posting's end."""
    from welfare.exposure import selectors
    from welfare.exposure.services import policy_create_for_unit
    from welfare.people.models import Posting
    from welfare.people.services import posting_end, posting_start

    day = date(2027, 3, 10)
    clock.set(local(day, 23, 30))
    policy_create_for_unit(actor=cast.admin, unit=cast.unit_b, values={"daily_minutes": 30})
    posting_start(actor=cast.admin, officer=cast.officer_a1, unit=cast.unit_b, started_on=day)
    b1_posting = Posting.objects.get(officer=cast.officer_b1, ended_on__isnull=True)
    posting_end(actor=cast.admin, posting=b1_posting, ended_on=day - timedelta(days=1))
    for officer in (cast.officer_a1, cast.officer_a2, cast.officer_b1):
        for d in (day - timedelta(days=1), day):
            log(cast, local(d, 9), 45, officer=officer)
    # Every medium and a late end on the day, so that each of the day's columns (packed
    # in one array by the many-officer form) has a value of its own.
    for n, medium in enumerate(MEDIUM_COLUMNS):
        log(cast, local(day, 10 + n, 7), 11 + n, officer=cast.officer_a2, material=medium)
    log(cast, local(day, 22, 13), 37, officer=cast.officer_a2, violent=True)
    officers = [cast.officer_a1, cast.officer_a2, cast.officer_b1]
    wanted = {o.pk: [day - timedelta(days=1), day] for o in officers}
    few = limit_inputs(wanted)
    monkeypatch.setattr(selectors, "PREPARED_WINDOW_MAX", 0)
    many = limit_inputs(wanted)
    assert few == many
    a2_day = few[(cast.officer_a2.pk, day)].usage
    assert len(a2_day.medium_seconds) == len(MEDIUM_COLUMNS)
    assert a2_day.last_end == local(day, 22, 50)
    # The move shows: a1 has unit B's daily limit on the day, unit A's (the force's) before.
    a1 = cast.officer_a1.pk
    assert few[(a1, day)].policy.daily_minutes == 30
    assert few[(a1, day - timedelta(days=1))].policy.daily_minutes != 30


@pytest.mark.parametrize("hours", [-25, 1])
def test_a_running_session_started_within_the_last_day(cast: Cast, clock, hours: int) -> None:
    url = f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary"
    start = (clock.now() + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    response = client_for(cast.officer_a1.user).get(f"{url}?running_since={start}")
    assert response.status_code == 400
    assert field_errors(response) == {"running_since": [RUNNING_WINDOW]}
