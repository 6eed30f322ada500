"""The scheduler process: one leader through a PostgreSQL advisory lock, a standby that takes
over, a clean stop on SIGTERM, a late job never dropped, readiness from the heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from schedules.jobs import JOBS
from schedules.models import Heartbeat, JobRun
from schedules.process import make_scheduler

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll a condition about other processes (not a timing assumption about our code)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _database_url() -> str:
    config = connection.settings_dict
    host = config["HOST"] or ""
    query = f"?host={host}" if host.startswith("/") else ""
    netloc = "" if host.startswith("/") else f"{host}:{config['PORT'] or 5432}"
    auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgresql://{auth}@{netloc}/{config['NAME']}{query}"


@pytest.fixture
def spawn() -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SCHEDULER_LOCK_POLL_SECONDS": "0.2",
        "SCHEDULER_HEARTBEAT_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }

    def start(name: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler", "--instance", name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def role_of(name: str) -> str | None:
    return Heartbeat.objects.filter(instance=name).values_list("role", flat=True).first()


@pytest.mark.django_db(transaction=True)
def test_one_leader_and_a_standby_that_takes_over(spawn) -> None:
    first = spawn("first")
    assert wait_for(lambda: role_of("first") == "leader"), (
        first.stderr.read() if first.poll() is not None else ""
    )
    spawn("second")
    assert wait_for(lambda: role_of("second") == "standby")
    assert role_of("first") == "leader"
    assert wait_for(lambda: JobRun.objects.filter(job="exposure_limits").exists()), (
        "the leader ran the jobs"
    )
    first.send_signal(signal.SIGKILL)  # dies without a word: its lock goes with its connection
    first.wait(timeout=10)
    assert wait_for(lambda: role_of("second") == "leader")
    assert Heartbeat.objects.filter(role="leader").count() == 2  # the dead one's row, now stale
    assert (
        Heartbeat.objects.get(instance="second").beat_at
        > Heartbeat.objects.get(instance="first").beat_at
    )


@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_cleanly(spawn) -> None:
    leader = spawn("solo")
    assert wait_for(lambda: role_of("solo") == "leader")
    leader.send_signal(signal.SIGTERM)
    assert leader.wait(timeout=30) == 0
    assert not Heartbeat.objects.filter(instance="solo").exists()


def test_jobs_never_drop_a_late_run() -> None:
    scheduler = make_scheduler()
    scheduler.start(paused=True)  # jobs take their defaults when the scheduler starts
    try:
        assert {job.id for job in scheduler.get_jobs()} == {job.name for job in JOBS}
        for job in scheduler.get_jobs():
            assert job.misfire_grace_time is None  # APScheduler's default drops a run 1 s late
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.next_run_time <= timezone.now()  # each also runs at start-up, to catch up
    finally:
        scheduler.shutdown(wait=False)


def test_readyz_follows_the_leader_heartbeat_in_real_time(db: None, clock) -> None:
    """The heartbeat is real time, whatever the injected clock says (here a year ahead)."""
    client = APIClient()
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"] == {"database": "ok", "scheduler": "stale"}
    now = timezone.now()
    clock.set(now + timedelta(days=365))
    Heartbeat.objects.create(instance="x", role="standby", started_at=now, beat_at=now)
    assert client.get("/readyz").status_code == 503
    Heartbeat.objects.create(instance="y", role="leader", started_at=now, beat_at=now)
    assert client.get("/readyz").json() == {
        "status": "ok",
        "checks": {"database": "ok", "scheduler": "ok"},
    }
    Heartbeat.objects.filter(instance="y").update(beat_at=now - timedelta(minutes=5))
    assert client.get("/readyz").status_code == 503
