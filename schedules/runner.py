"""Running jobs as of an instant: from the scheduler, or all at once from `run_jobs`."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from schedules.jobs import JOBS, Job
from schedules.models import JobRun
from welfare.core import clock

log = logging.getLogger(__name__)


def _record(runs: list[JobRun]) -> None:
    """Upsert last-run rows in one statement."""
    fields = ["last_started_at", "last_instant", "last_finished_at", "last_result", "last_error"]
    JobRun.objects.bulk_create(
        runs, update_conflicts=True, unique_fields=["job"], update_fields=fields
    )


def _execute(job: Job, instant: datetime) -> tuple[object, JobRun]:
    started = clock.now()
    try:
        with clock.frozen(instant), transaction.atomic():
            result = job.run(instant)
    except Exception as error:
        log.exception("job %s failed", job.name)
        _record([JobRun(job=job.name, last_started_at=started, last_instant=instant,
                        last_finished_at=None, last_result="",
                        last_error=f"{type(error).__name__}: {error}"[:300])])  # fmt: skip
        raise
    log.debug("job %s ran as of %s: %r", job.name, instant.isoformat(), result)
    run = JobRun(
        job=job.name,
        last_started_at=started,
        last_instant=instant,
        last_finished_at=clock.now(),
        last_result=repr(result)[:300],
        last_error="",
    )
    return result, run


def run_job(job: Job, at: datetime | None = None) -> object:
    """One job as of `at` (default: now), in one transaction, recording its last run."""
    result, run = _execute(job, at or clock.now())
    _record([run])
    return result


def run_all(at: datetime | None = None) -> dict[str, object]:
    """Every job once, in table order, as of one instant."""
    instant = at or clock.now()
    results: dict[str, object] = {}
    runs: list[JobRun] = []
    for job in JOBS:
        results[job.name], run = _execute(job, instant)
        runs.append(run)
    _record(runs)
    return results
