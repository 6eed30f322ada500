"""The `audit_anchor` job keeps the audit chain's head outside the database at an interval,
as of the instant the scheduler gives it."""

from __future__ import annotations

import json
import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from schedules.jobs import JOBS
from schedules.models import JobRun
from schedules.runner import run_job
from tests.conftest import Cast, Clock
from welfare.audit.models import AuditEvent
from welfare.audit.services import audit_record

JOB = next(job for job in JOBS if job.name == "audit_anchor")


def test_the_job_runs_at_the_configured_interval(settings) -> None:
    assert settings.AUDIT_ANCHOR_MINUTES == 60  # the default
    assert (JOB.trigger, JOB.trigger_args) == ("interval", {"minutes": 60})


def test_each_run_appends_the_head_as_of_its_instant(
    cast: Cast, clock: Clock, tmp_path: Path, settings, caplog: pytest.LogCaptureFixture
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    settings.AUDIT_ANCHOR_FILE = str(anchors)
    first_at = clock.now()
    second_at = first_at + timedelta(hours=1)
    with caplog.at_level(logging.INFO, logger="welfare.audit.anchor"):
        run_job(JOB, first_at)
        audit_record(actor=cast.admin, action="unit.updated", target_type="unit", target_id=1)
        run_job(JOB, second_at)

    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    newest = AuditEvent.objects.order_by("-id")[0]
    assert [line["at"] for line in lines] == [first_at.isoformat(), second_at.isoformat()]
    assert (lines[1]["last_id"], lines[1]["last_hash"]) == (newest.pk, newest.hash)
    assert lines[0]["last_id"] == newest.pk - 1
    assert lines[1]["count"] == lines[0]["count"] + 1
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600
    assert JobRun.objects.get(job="audit_anchor").last_instant == second_at
    # The log carries the anchor too: ids and hashes only.
    logged = [r.getMessage() for r in caplog.records if r.name == "welfare.audit.anchor"]
    assert len(logged) == 2
    assert lines[0]["last_hash"] in logged[0]
    assert lines[1]["last_hash"] in logged[1]
    assert "admin" not in " ".join(logged)


def test_without_an_anchor_file_the_job_logs_only(
    cast: Cast, clock: Clock, tmp_path: Path, settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.AUDIT_ANCHOR_FILE = None
    with caplog.at_level(logging.INFO, logger="welfare.audit.anchor"):
        run_job(JOB, clock.now())
    newest = AuditEvent.objects.order_by("-id")[0]
    assert any(newest.hash in r.getMessage() for r in caplog.records)
    assert list(tmp_path.iterdir()) == []
