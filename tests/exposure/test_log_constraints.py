"""A log that waited for the officer's lock sees what was committed meanwhile: a retry's
original, an overlapping session, and, in the day's totals, any other session. A writer
that does not take the lock is caught by the constraints: nothing more is inserted and the
log answers as a retry. Real transactions on two connections, in a fixed order."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction

from tests.conftest import Cast, owner_session
from welfare.core.errors import DomainError
from welfare.exposure import services
from welfare.exposure.models import DailyTotal, ExposureSession

pytestmark = pytest.mark.django_db(transaction=True)


def log(cast: Cast, start: datetime, minutes: int, ref: uuid.UUID) -> services.LogResult:
    officer = cast.officer_a1
    return services.exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        material="video",
        category="B",
        violent=True,
        items_reviewed=7,
        note="synthetic",
        client_ref=ref,
    )


def waiting_for(event: str) -> bool:
    # Other sessions' waits are shown to their own role or a superuser, not to the app's.
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event = %s",
            [event],
        )
        return cursor.fetchone()[0] > 0


def second_waits_for_first(
    first: Callable[[], object], second: Callable[[], object], *, on: str = "advisory"
) -> object:
    """`first` runs in a transaction held open until `second` (on another connection) is
    seen waiting (for the officer's lock, or `on` another wait event); then `first`
    commits. Returns what `second` gave (or raised)."""
    held, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def run_first() -> None:
        try:
            with transaction.atomic():
                first()
                held.set()
                release.wait(timeout=20)
        finally:
            connection.close()

    def run_second() -> None:
        try:
            outcome.append(second())
        except Exception as error:  # the test looks at it
            outcome.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    threads[0].start()
    assert held.wait(timeout=20)
    threads[1].start()
    deadline = time.monotonic() + 20
    while not waiting_for(on):
        assert time.monotonic() < deadline, f"the second log never waited ({on})"
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    return outcome[0]


def test_a_retry_that_waited_for_its_original_gets_the_stored_session(cast: Cast, clock) -> None:
    ref, start = uuid.uuid4(), clock.now() - timedelta(hours=5)
    again = second_waits_for_first(
        lambda: log(cast, start, 30, ref), lambda: log(cast, start, 30, ref)
    )
    assert isinstance(again, services.LogResult)
    assert again.created is False
    stored = ExposureSession.objects.get(officer=cast.officer_a1)
    assert again.session.pk == stored.pk
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 30 * 60


def test_an_overlap_committed_while_waiting_is_refused(cast: Cast, clock) -> None:
    start = clock.now() - timedelta(hours=5)
    refused = second_waits_for_first(
        lambda: log(cast, start, 30, uuid.uuid4()),
        lambda: log(cast, start + timedelta(minutes=10), 30, uuid.uuid4()),
    )
    assert isinstance(refused, DomainError)
    assert refused.code == "overlap"
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1


def test_the_days_totals_count_a_session_committed_while_waiting(cast: Cast, clock) -> None:
    start = clock.now() - timedelta(hours=5)
    second_waits_for_first(
        lambda: log(cast, start, 30, uuid.uuid4()),
        lambda: log(cast, start + timedelta(minutes=40), 20, uuid.uuid4()),
    )
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == (30 + 20) * 60


def test_a_writer_without_the_lock_is_caught_by_the_constraint_and_answered_as_a_retry(
    cast: Cast, clock
) -> None:
    """A row inserted without the officer's lock (no path of the service does) and
    committed while the log's insert waits on it: the insert stores nothing, and the log
    returns that row."""
    ref, start = uuid.uuid4(), clock.now() - timedelta(hours=5)

    def insert_without_the_lock() -> None:
        ExposureSession.objects.create(
            officer=cast.officer_a1,
            recorded_by=cast.officer_a1.user,
            started_at=start,
            ended_at=start + timedelta(minutes=30),
            material="video",
            category="B",
            client_ref=ref,
            recorded_at=clock.now(),
        )

    again = second_waits_for_first(
        insert_without_the_lock, lambda: log(cast, start, 30, ref), on="transactionid"
    )
    assert isinstance(again, services.LogResult)
    assert again.created is False
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1


def test_a_refusal_leaves_the_callers_transaction_usable(cast: Cast, clock) -> None:
    start = clock.now() - timedelta(hours=5)
    with transaction.atomic():
        log(cast, start, 30, uuid.uuid4())
        with pytest.raises(DomainError):
            log(cast, start + timedelta(minutes=10), 30, uuid.uuid4())
        with pytest.raises(DomainError):
            log(cast, clock.now() + timedelta(hours=2), 30, uuid.uuid4())
        assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1


def test_the_stored_row_comes_back_as_the_database_holds_it(cast: Cast, clock) -> None:
    start = (clock.now() - timedelta(hours=5)).replace(microsecond=123456)
    result = log(cast, start, 30, uuid.uuid4())
    fresh = ExposureSession.objects.get(pk=result.session.pk)
    names = [f.attname for f in ExposureSession._meta.concrete_fields]
    assert {n: getattr(result.session, n) for n in names} == {n: getattr(fresh, n) for n in names}
    assert fresh.started_at == start.replace(microsecond=0)
    assert (fresh.version, fresh.state, fresh.source) == (1, "current", "self")
    assert fresh.lineage is not None
    assert fresh.note == "synthetic"


def test_a_note_too_long_is_refused_by_the_column_not_cut(cast: Cast, clock) -> None:
    officer = cast.officer_a1
    start = clock.now() - timedelta(hours=5)
    with pytest.raises(Exception, match="too long"):
        services.exposure_log(
            officer=officer,
            recorded_by=officer.user,
            started_at=start,
            ended_at=start + timedelta(minutes=5),
            material="image",
            category="C",
            note="x" * 281,
            client_ref=uuid.uuid4(),
        )
    assert not ExposureSession.objects.exists()


def test_refused_times_are_never_split_into_days(
    cast: Cast, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused span (centuries long, say) still looks for a stored retry, but is never
    split into local days: only a session that may be inserted is."""
    split: list[object] = []
    real = services._affected_days

    def recorded(spans):
        split.append(spans)
        return real(spans)

    monkeypatch.setattr(services, "_affected_days", recorded)
    start = clock.now() - timedelta(days=365 * 300)
    with pytest.raises(DomainError) as refused:
        log(cast, start, 60 * 24 * 365 * 300 - 60, uuid.uuid4())
    assert "ended_at" in refused.value.fields
    assert split == []
    log(cast, clock.now() - timedelta(hours=5), 30, uuid.uuid4())
    assert len(split) == 1
