"""When the read under the officer's lock misses a row (a writer that skipped the lock),
the constraints still decide: the insert stores nothing and the read runs again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import Cast
from welfare.core.errors import DomainError
from welfare.exposure import services
from welfare.exposure.models import DailyTotal, ExposureSession

pytestmark = pytest.mark.django_db


def log(cast: Cast, start, minutes: int, ref: uuid.UUID) -> services.LogResult:
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


@pytest.fixture
def first_read_misses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = services._stored_or_overlapping

    def missing_once(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(services, "_stored_or_overlapping", missing_once)
    return calls


def test_a_stored_client_ref_the_read_missed_comes_back_stored(
    cast: Cast, clock, first_read_misses: list[int]
) -> None:
    ref = uuid.uuid4()
    start = clock.now() - timedelta(hours=5)
    with pytest.MonkeyPatch.context() as undo:
        undo.setattr(services, "_stored_or_overlapping", lambda *a, **k: None)
        stored = log(cast, start, 30, ref).session
    first_read_misses.clear()
    again = log(cast, start, 30, ref)
    assert again.created is False
    assert again.session.pk == stored.pk
    assert len(first_read_misses) == 2
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 1
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 30 * 60


def test_an_overlap_the_read_missed_is_refused_by_the_exclusion(
    cast: Cast, clock, first_read_misses: list[int]
) -> None:
    """And the refusal, raised with no savepoint, leaves the caller's transaction usable."""
    start = clock.now() - timedelta(hours=5)
    with pytest.MonkeyPatch.context() as undo:
        undo.setattr(services, "_stored_or_overlapping", lambda *a, **k: None)
        log(cast, start, 30, uuid.uuid4())
    first_read_misses.clear()
    with pytest.raises(DomainError) as refused:
        log(cast, start + timedelta(minutes=10), 30, uuid.uuid4())
    assert refused.value.code == "overlap"
    assert len(first_read_misses) == 2
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
