"""Running jobs as of an instant: from the scheduler, or all at once from `run_jobs`."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from schedules.jobs import JOBS, Job
from schedules.models import JobRun
from welfare.alerts.services.emails import queue_only
from welfare.core import clock
from welfare.core.db import prepared_cursor

log = logging.getLogger(__name__)


_FIELDS = ["last_started_at", "last_instant", "last_finished_at", "last_result", "last_error"]
_RECORD_SQL = f"""
    INSERT INTO schedules_jobrun (job, {", ".join(_FIELDS)})
    SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
                         %s::text[], %s::text[])
    ON CONFLICT (job) DO UPDATE SET {", ".join(f"{f} = EXCLUDED.{f}" for f in _FIELDS)}
"""  # noqa: S608 - column names from constants


def _record(runs: list[JobRun]) -> None:
    """Upsert last-run rows in one plain statement (the exposure sweep runs every few
    minutes; building the ORM's upsert cost more than the rest of a quiet run)."""
    columns = [[getattr(run, name) for run in runs] for name in ["job", *_FIELDS]]
    with prepared_cursor() as cursor:
        cursor.execute(_RECORD_SQL, columns)


def _execute(job: Job, instant: datetime) -> object:
    """Run a job in one transaction and record its run in the same one, so a run and its
    effects commit together (and a quiet sweep pays one commit, not two). A failed run is
    rolled back and recorded with its error on its own.

    The job is given its instant and passes it on; nothing freezes the process's clock,
    which the heartbeat and every other thread go on reading. Started and finished are
    real times, for operators.

    A job marked `atomic=False` (webhooks: it waits on other servers) runs outside any
    transaction here, committing its own work as it goes, and its run is recorded after."""
    started = timezone.now()
    try:
        # A job queues its e-mails for the `emails` job rather than sending them after commit.
        with queue_only(), transaction.atomic() if job.atomic else contextlib.nullcontext():
            result = job.run(instant)
            log.debug("job %s ran as of %s: %r", job.name, instant.isoformat(), result)
            _record([JobRun(job=job.name, last_started_at=started, last_instant=instant,
                            last_finished_at=timezone.now(), last_result=repr(result)[:300],
                            last_error="")])  # fmt: skip
    except Exception as error:
        log.exception("job %s failed", job.name)
        _record([JobRun(job=job.name, last_started_at=started, last_instant=instant,
                        last_finished_at=None, last_result="",
                        last_error=f"{type(error).__name__}: {error}"[:300])])  # fmt: skip
        raise
    return result


def run_job(job: Job, at: datetime | None = None) -> object:
    """One job as of `at` (default: now), in one transaction, recording its last run."""
    return _execute(job, at or clock.now())


def run_all(at: datetime | None = None) -> dict[str, object]:
    """Every job once, in table order, as of one instant, each in its own transaction."""
    instant = at or clock.now()
    return {job.name: _execute(job, instant) for job in JOBS}
