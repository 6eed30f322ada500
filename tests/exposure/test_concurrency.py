"""Real threads on PostgreSQL: the database, not Python, decides duplicates and overlaps."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import Cast, client_for, run_together
from welfare.exposure.models import DailyTotal, ExposureSession

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/exposures/"


def body(start, minutes: int = 60, ref: str | None = None) -> dict[str, object]:
    return {
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "material": "image",
        "category": "C",
        "client_ref": ref or str(uuid.uuid4()),
    }


def test_two_identical_posts_at_once_store_one_row(cast: Cast, clock) -> None:
    same = body(clock.now() - timedelta(hours=3))
    clients = [client_for(cast.officer_a1.user) for _ in range(4)]
    responses = run_together(*[lambda c=c: c.post(URL, same, format="json") for c in clients])
    codes = sorted(r.status_code for r in responses)  # type: ignore[attr-defined]
    assert codes == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1  # type: ignore[attr-defined]
    assert ExposureSession.objects.count() == 1
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 3600


def test_two_overlapping_posts_at_once_one_wins(cast: Cast, clock) -> None:
    start = clock.now() - timedelta(hours=3)
    first, second = client_for(cast.officer_a1.user), client_for(cast.officer_a1.user)
    responses = run_together(
        lambda: first.post(URL, body(start, 60), format="json"),
        lambda: second.post(URL, body(start + timedelta(minutes=30), 60), format="json"),
    )
    codes = sorted(r.status_code for r in responses)  # type: ignore[attr-defined]
    assert codes == [201, 400]
    loser = next(r for r in responses if r.status_code == 400)  # type: ignore[attr-defined]
    assert "overlaps" in loser.json()["started_at"][0]  # type: ignore[attr-defined]
    assert ExposureSession.objects.count() == 1
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 3600


def test_concurrent_sessions_of_one_officer_on_one_day_both_count(cast: Cast, clock) -> None:
    """Two sessions logged at once for the same day: the daily total holds both (no lost
    update between the two upserts)."""
    for round_ in range(5):
        start = clock.now() - timedelta(hours=8) + timedelta(minutes=100 * round_)
        first, second = client_for(cast.officer_a1.user), client_for(cast.officer_a1.user)
        responses = run_together(
            lambda start=start, c=first: c.post(URL, body(start, 30), format="json"),
            lambda start=start, c=second: c.post(
                URL, body(start + timedelta(minutes=40), 30), format="json"
            ),
        )
        assert sorted(r.status_code for r in responses) == [201, 201]  # type: ignore[attr-defined]
        expected = ExposureSession.objects.filter(officer=cast.officer_a1).count() * 30 * 60
        assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == expected
