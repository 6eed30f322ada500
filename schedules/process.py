"""The scheduler process: one leader runs the jobs, any other instance stands by.

Leadership is a PostgreSQL session advisory lock held on a dedicated connection. When the
leader dies its connection closes, the lock is released, and a standby takes over within
one poll. Jobs run one at a time in a single worker; they coalesce, and a late run is
never dropped (no misfire grace limit). SIGTERM stops the process cleanly.

Every instance beats from its main thread on the lock's connection, in the database's
time, while jobs run in the worker with the instant they run as of (`at`): a job of any
length leaves the leader's heartbeat fresh, so `/readyz` stays ready.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from datetime import datetime
from typing import Any

import psycopg
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.db import close_old_connections, connections
from psycopg import sql

from schedules.jobs import JOBS
from schedules.models import Heartbeat
from schedules.runner import run_job
from welfare.core import clock

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x5C4E_D01E


def connection_kwargs() -> dict[str, Any]:
    """psycopg connection arguments for the default database, outside Django's pool."""
    config = connections["default"].settings_dict
    kwargs: dict[str, Any] = {"dbname": config["NAME"]}
    for key, name in (
        ("USER", "user"),
        ("PASSWORD", "password"),
        ("HOST", "host"),
        ("PORT", "port"),
    ):
        if config.get(key):
            kwargs[name] = config[key]
    kwargs.update(
        {k: v for k, v in (config.get("OPTIONS") or {}).items() if isinstance(v, str | int)}
    )
    return kwargs


def make_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=settings.TIME_ZONE,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    now = datetime.now(clock.local_zone())
    for job in JOBS:
        # Every job also runs at start-up, to catch up on whatever an outage left undone.
        scheduler.add_job(
            _run_safely, job.trigger, args=[job.name], id=job.name, name=job.description,
            next_run_time=now, **job.trigger_args,
        )  # fmt: skip
    return scheduler


def _run_safely(name: str) -> None:
    job = next(j for j in JOBS if j.name == name)
    close_old_connections()
    try:
        run_job(job)
    except Exception:  # logged and recorded by run_job; the scheduler keeps going
        log.warning("job %s failed; it will run again at its next time", name)
    finally:
        close_old_connections()


# The heartbeat is written on the lock's own autocommit connection, stamped with the
# database's time: never in a job's transaction or through its connection, never with the
# domain clock, so a long job cannot make it stale, and each beat also proves that the
# session holding the lock is alive. Readiness compares it with the database's time too.
_BEAT_SQL = sql.SQL(
    "INSERT INTO {table} (instance, role, started_at, beat_at) "
    "VALUES (%(instance)s, %(role)s, %(started)s, statement_timestamp()) "
    "ON CONFLICT (instance) DO UPDATE SET role = EXCLUDED.role, "
    "started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at"
).format(table=sql.Identifier(Heartbeat._meta.db_table))
_GONE_SQL = sql.SQL("DELETE FROM {table} WHERE instance = %(instance)s").format(
    table=sql.Identifier(Heartbeat._meta.db_table)
)


class SchedulerProcess:
    def __init__(self, *, instance: str | None = None) -> None:
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.started_at: datetime | None = None

    def _beat(self, lock: psycopg.Connection[Any], role: str) -> None:
        lock.execute(
            _BEAT_SQL, {"instance": self.instance, "role": role, "started": self.started_at}
        )

    def _stop(self, signum: int, _frame: object) -> None:
        log.info("scheduler %s: signal %s, stopping", self.instance, signum)
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        return self.serve()

    def serve(self) -> int:
        """Stand by, lead when the lock is free, until `stopping` is set (by a signal, in
        `run`). Returns the exit code."""
        lock = psycopg.connect(**connection_kwargs(), autocommit=True)
        try:
            row = lock.execute("SELECT statement_timestamp()").fetchone()
            self.started_at = row[0] if row else None
            return self._lead_when_possible(lock)
        finally:
            with contextlib.suppress(psycopg.Error):  # a lost connection leaves a stale row
                lock.execute(_GONE_SQL, {"instance": self.instance})
            lock.close()

    def _lead_when_possible(self, lock: psycopg.Connection[Any]) -> int:
        poll = settings.SCHEDULER_LOCK_POLL_SECONDS
        while not self.stopping.is_set():
            row = lock.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK_KEY]).fetchone()
            if row and row[0]:
                break
            self._beat(lock, "standby")
            self.stopping.wait(poll)
        if self.stopping.is_set():
            return 0
        log.info("scheduler %s: leading", self.instance)
        scheduler = make_scheduler()
        self._beat(lock, "leader")
        scheduler.start()
        try:
            while not self.stopping.wait(settings.SCHEDULER_HEARTBEAT_SECONDS):
                try:
                    self._beat(lock, "leader")
                except psycopg.Error:
                    # Most likely the lock's connection is gone, and the lock with it; a
                    # leader that cannot beat is not ready either way: hand over.
                    log.error("scheduler %s: lost the lock connection; exiting", self.instance)
                    return 1
        finally:
            self._drain(scheduler, lock)
        return 0

    def _drain(self, scheduler: BackgroundScheduler, lock: psycopg.Connection[Any]) -> None:
        """Stop the scheduler, waiting for a running job to finish, and keep beating until
        it has: the leader is alive, and holds the lock, until then."""
        stopping = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True})
        stopping.start()
        stopping.join(settings.SCHEDULER_HEARTBEAT_SECONDS)
        while stopping.is_alive():
            with contextlib.suppress(psycopg.Error):
                self._beat(lock, "leader")
            stopping.join(settings.SCHEDULER_HEARTBEAT_SECONDS)
