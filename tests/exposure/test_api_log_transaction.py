"""Logging a session is one service path in one transaction, as every other write: the
officer's lock, the retry and overlap reads, the insert, the day's totals and the audit
event commit together or not at all, and before the response is rendered (so the
officer's and the audit chain's locks are not held while it is)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from tests.conftest import Cast, client_for
from welfare.audit.models import AuditEvent
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


def test_logging_runs_in_one_transaction_with_its_audit_event(cast: Cast, clock) -> None:
    officer = client_for(cast.officer_a1.user)
    with statements() as seen:
        response = officer.post(URL, body(clock.now() - timedelta(hours=2)), format="json")
    assert response.status_code == 201, response.content
    writes = [
        (in_block, autocommit)
        for sql, in_block, autocommit in seen
        if sql.lstrip().upper().startswith(("INSERT", "WITH", "UPDATE", "SELECT PG_ADVISORY"))
    ]
    assert len(writes) >= 5  # the two locks, the session, the totals, the audit event
    assert all(in_block and not autocommit for in_block, autocommit in writes)
    stored = ExposureSession.objects.get()
    assert stored.pk == response.json()["id"]
    assert DailyTotal.objects.get(officer=cast.officer_a1).seconds == 30 * 60
    event = AuditEvent.objects.get(action="exposure.logged")
    assert (event.actor_id, event.target_id) == (cast.officer_a1.user_id, str(stored.pk))
    assert event.detail == {"officer": cast.officer_a1.pk, "source": "self"}


def test_a_failure_after_the_insert_leaves_nothing(cast: Cast, clock, monkeypatch) -> None:
    """The audit event cannot be written: neither the session nor its totals stay."""
    from welfare.exposure import services as exposure_services

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(exposure_services, "audit_record", broken)
    officer = client_for(cast.officer_a1.user)
    officer.raise_request_exception = False
    response = officer.post(URL, body(clock.now() - timedelta(hours=2)), format="json")
    assert response.status_code == 500
    assert not ExposureSession.objects.exists()
    assert not DailyTotal.objects.exists()


def test_a_retry_and_a_refusal_write_nothing_more(cast: Cast, clock) -> None:
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
    assert AuditEvent.objects.filter(action="exposure.logged").count() == 1


def test_the_transaction_has_ended_before_the_response_is_rendered(
    cast: Cast, clock, monkeypatch
) -> None:
    from welfare.exposure import api

    rendered_inside: list[bool] = []
    real = api.ExposureOutput.to_representation

    def render(self: Any, instance: Any) -> Any:
        rendered_inside.append(connection.in_atomic_block)
        return real(self, instance)

    monkeypatch.setattr(api.ExposureOutput, "to_representation", render)
    officer = client_for(cast.officer_a1.user)
    logged = officer.post(URL, body(clock.now() - timedelta(hours=2)), format="json")
    assert logged.status_code == 201
    amended = officer.post(
        f"{URL}{logged.json()['id']}/amend", {"reason": "typo", "violent": True}, format="json"
    )
    assert amended.status_code == 201, amended.content
    assert rendered_inside == [False, False]
    assert ExposureSession.objects.filter(officer=cast.officer_a1).count() == 2
