"""run_job records each job's last run, whether it finished or failed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schedules.jobs import Job
from schedules.models import JobRun
from schedules.runner import run_all, run_job

pytestmark = pytest.mark.django_db

AT = datetime(2027, 3, 10, 9, tzinfo=UTC)


def test_a_finished_run_is_recorded_and_replaced_by_the_next() -> None:
    job = Job("probe", lambda at: {"ran": at.isoformat()}, "interval", {"minutes": 5}, "Probe.")
    run_job(job, AT)
    run_job(job, AT.replace(hour=10))
    run = JobRun.objects.get(job="probe")
    assert run.last_instant == AT.replace(hour=10)
    assert run.last_finished_at is not None
    assert run.last_result == repr({"ran": AT.replace(hour=10).isoformat()})
    assert run.last_error == ""


def test_a_failed_run_is_recorded_with_its_error_and_no_finish() -> None:
    def fail(at: datetime) -> None:
        raise RuntimeError("mail server down")

    job = Job("probe", fail, "interval", {"minutes": 5}, "Probe.")
    with pytest.raises(RuntimeError):
        run_job(job, AT)
    run = JobRun.objects.get(job="probe")
    assert run.last_finished_at is None
    assert run.last_error == "RuntimeError: mail server down"
    assert run.last_instant == AT


def test_a_run_is_recorded_in_its_own_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each job's run commits with its record, so a later job failing in `run_all` leaves
    the earlier ones recorded as they finished."""

    def fail(at: datetime) -> None:
        raise RuntimeError("mail server down")

    jobs = [
        Job("first", lambda at: "done", "interval", {"minutes": 5}, "First."),
        Job("second", fail, "interval", {"minutes": 5}, "Second."),
    ]
    monkeypatch.setattr("schedules.runner.JOBS", jobs)
    with pytest.raises(RuntimeError):
        run_all(AT)
    first, second = JobRun.objects.get(job="first"), JobRun.objects.get(job="second")
    assert (first.last_result, first.last_error) == ("'done'", "")
    assert first.last_finished_at is not None
    assert (second.last_finished_at, second.last_error) == (None, "RuntimeError: mail server down")
