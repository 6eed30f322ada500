"""run_job records each job's last run, whether it finished or failed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schedules.jobs import Job
from schedules.models import JobRun
from schedules.runner import run_job

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
