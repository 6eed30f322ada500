"""Logging a session is one statement, run in autocommit: the log function's call is the
request's transaction. The viewset's other actions still run in one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from tests.conftest import Cast, client_for
from welfare.exposure import services
from welfare.exposure.models import DailyTotal, ExposureSession

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/exposures/"


def body(start: Any, minutes: int = 30) -> dict[str, object]:
    return {
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "material": "image",
        "category": "B",
        "client_ref": str(uuid.uuid4()),
    }


@contextmanager
def statements() -> Iterator[list[tuple[str, bool, bool]]]:
    """Each statement run: (sql, inside an atomic block, autocommit on)."""
    seen: list[tuple[str, bool, bool]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, connection.in_atomic_block, connection.get_autocommit()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_logging_runs_the_log_function_in_autocommit(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    with statements() as seen:
        response = officer.post(URL, body(clock.now() - timedelta(hours=2)), format="json")
    assert response.status_code == 201, response.content
    calls = [s for s in seen if services.LOG_FUNCTION in s[0]]
    assert len(calls) == 1
    assert calls[0][1:] == (False, True)  # no transaction around it: the call is one
    assert all(not in_block for _, in_block, _ in seen)
    assert ExposureSession.objects.get().pk == response.json()["id"]
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 30 * 60


def test_a_retry_and_a_refusal_in_autocommit_write_nothing_more(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    first = body(clock.now() - timedelta(hours=2), 60)
    assert officer.post(URL, first, format="json").status_code == 201
    assert officer.post(URL, first, format="json").status_code == 200
    overlapping = body(clock.now() - timedelta(hours=2) + timedelta(minutes=30), 60)
    refused = officer.post(URL, overlapping, format="json")
    assert refused.status_code == 400
    assert "overlaps" in refused.json()["started_at"][0]
    assert ExposureSession.objects.count() == 1
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 60 * 60


def test_the_viewsets_other_actions_still_run_in_one_transaction(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    logged = officer.post(URL, body(clock.now() - timedelta(hours=2)), format="json").json()
    with statements() as listing:
        assert officer.get(URL).status_code == 200
    with statements() as amending:
        amended = officer.post(
            f"{URL}{logged['id']}/amend", {"reason": "typo", "violent": True}, format="json"
        )
    assert amended.status_code == 201, amended.content
    for seen in (listing, amending):
        assert seen
        assert all(in_block and not autocommit for _, in_block, autocommit in seen)
