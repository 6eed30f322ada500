"""A job runs as of the instant it is given, and nothing else: not the process's clock, so
the heartbeat keeps real time and `/readyz` stays ready however long a job takes, and
other threads (web requests, the heartbeat) go on reading the clock undisturbed."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from schedules.jobs import JOBS, Job
from schedules.models import Heartbeat, JobRun
from schedules.process import SchedulerProcess
from schedules.runner import run_job
from tests.conftest import T0, Cast
from welfare.alerts.models import Alert, Notification
from welfare.audit.models import AuditEvent
from welfare.checkins.models import CheckIn
from welfare.checkins.services import TriggerRequest, checkin_cancel, checkins_trigger
from welfare.core import clock as clock_module

ROOT = Path(__file__).resolve().parents[2]
BY_NAME = {job.name: job for job in JOBS}
READINESS_AGE = 1  # seconds, instead of two minutes
BEAT = 0.05


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def overdue_checkin(cast: Cast) -> CheckIn:
    """A check-in for officer A1 due 20 days before T0: overdue, and past escalation."""
    [checkin] = checkins_trigger(
        requests=[TriggerRequest(cast.officer_a1.pk, (T0 - timedelta(days=20)).date(), "probe")],
        at=T0 - timedelta(days=30),
    )
    assert checkin is not None
    return checkin


class ObservedProcess(SchedulerProcess):
    """The real scheduler process, telling the test each time it has beaten."""

    def __init__(self) -> None:
        super().__init__(instance="observed")
        self.beats = 0
        self.beaten = threading.Condition()

    def _beat(self, lock: psycopg.Connection[Any], role: str) -> None:
        super()._beat(lock, role)
        with self.beaten:
            self.beats += 1
            self.beaten.notify_all()

    def next_beat(self) -> None:
        with self.beaten:
            seen = self.beats
            assert self.beaten.wait_for(lambda: self.beats > seen, timeout=10), "no beat"


@pytest.fixture
def fast_scheduler(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SCHEDULER_HEARTBEAT_SECONDS = BEAT
    settings.SCHEDULER_LOCK_POLL_SECONDS = BEAT
    settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS = READINESS_AGE
    # The worker thread's connection is closed after each job (not kept for reuse), so the
    # test database has no connection left behind.
    monkeypatch.setattr("schedules.process.close_old_connections", connections.close_all)


@pytest.fixture
def slow_job(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The scheduler's only job: a slow step (held until the test releases it), then the
    real check-in status and escalation jobs as of the job's instant."""
    overdue_checkin(cast)
    state: dict[str, Any] = {"started": threading.Event(), "release": threading.Event()}

    def run(at: datetime) -> str:
        state["started"].set()
        assert state["release"].wait(timeout=30), "the test never released the job"
        BY_NAME["checkin_status"].run(at)
        BY_NAME["checkin_escalation"].run(at)
        return "done"

    job = Job("slow", run, "interval", {"minutes": 5}, "A slow job.")
    monkeypatch.setattr("schedules.process.JOBS", (job,))
    yield state
    state["release"].set()


def stays_ready(process: ObservedProcess, client: APIClient) -> datetime:
    """Ask /readyz after each beat for longer than the readiness age: every answer is 200,
    and no stretch as long as the readiness age goes unasked. Returns when it began."""
    polled = [database_now()]
    while polled[-1] - polled[0] <= timedelta(seconds=READINESS_AGE * 1.5):
        process.next_beat()
        response = client.get("/readyz")
        assert response.status_code == 200, response.json()
        polled.append(database_now())
    gaps = [later - earlier for earlier, later in pairwise(polled)]
    assert max(gaps) < timedelta(seconds=READINESS_AGE)
    return polled[0]


@pytest.mark.django_db(transaction=True)
def test_readyz_stays_ready_while_a_job_outlasts_the_readiness_age(
    fast_scheduler: None, slow_job: dict[str, Any], clock
) -> None:
    client = APIClient()
    assert client.get("/readyz").status_code == 503  # no leader yet
    process = ObservedProcess()
    exit_codes: list[int] = []
    thread = threading.Thread(target=lambda: exit_codes.append(process.serve()))
    thread.start()
    try:
        assert slow_job["started"].wait(timeout=10), "the leader never ran its job"
        # While the job holds, the injected clock moves on: the job must not read it.
        clock.set(T0 + timedelta(days=2))
        began = stays_ready(process, client)
        assert thread.is_alive()
        assert not JobRun.objects.filter(job="slow").exists()  # still running
        # The leader's beat is in real time, well past the job's start: not its instant.
        leader = Heartbeat.objects.get(instance="observed")
        assert leader.role == "leader"
        assert began + timedelta(seconds=READINESS_AGE) < leader.beat_at <= database_now()
        assert leader.started_at <= began
        # Told to stop (a deployment), the leader lets its job finish, and is alive and
        # leading, beating, until then.
        process.stopping.set()
        stays_ready(process, client)
        assert thread.is_alive()
        assert not JobRun.objects.filter(job="slow").exists()
        assert Heartbeat.objects.get(instance="observed").role == "leader"
    finally:
        slow_job["release"].set()
        process.stopping.set()
        thread.join(timeout=30)
    assert exit_codes == [0]

    run = JobRun.objects.get(job="slow")
    assert (run.last_result, run.last_error, run.last_instant) == ("'done'", "", T0)
    checkin = CheckIn.objects.get(key="probe")
    assert (checkin.status, checkin.status_changed_at) == ("overdue", T0)
    alert = Alert.objects.get(checkin=checkin)
    assert (alert.raised_at, alert.escalated_at) == (T0, T0)
    notifications = Notification.objects.all()
    assert notifications.exists()
    assert {n.created_at for n in notifications} == {T0}
    # The stopped leader's row is gone: not ready until another one leads.
    assert not Heartbeat.objects.exists()
    assert client.get("/readyz").json()["checks"]["scheduler"] == "stale"


def test_a_job_stamps_its_instant_everywhere_whatever_the_clock_says(
    cast: Cast, clock, django_capture_on_commit_callbacks
) -> None:
    at = T0 + timedelta(days=40, hours=3)
    for name in ("checkin_schedule", "checkin_status", "checkin_escalation"):
        with django_capture_on_commit_callbacks(execute=True):
            run_job(BY_NAME[name], at)
    assert clock.now() == T0  # the clock was not moved, and was not read

    checkins = CheckIn.objects.all()
    assert checkins.exists()
    assert {c.created_at for c in checkins} == {at}
    assert {c.status_changed_at for c in checkins} == {at}
    alerts = Alert.objects.all()
    assert alerts.filter(escalated_at__isnull=False).exists()
    assert {a.raised_at for a in alerts} == {at}
    assert {a.escalated_at for a in alerts} <= {at, None}
    notifications = Notification.objects.all()
    assert notifications.exists()
    assert {n.created_at for n in notifications} == {at}

    # A sweep that resolves an alert resolves it, and audits it, as of its instant.
    clock.set(at + timedelta(hours=1))
    overdue = alerts.filter(checkin__isnull=False).first()
    checkin_cancel(actor=cast.oh1, checkin=overdue.checkin, reason="Left the force.")
    later = at + timedelta(days=1)
    run_job(BY_NAME["checkin_escalation"], later)
    overdue.refresh_from_db()
    assert (overdue.status, overdue.resolved_at) == ("resolved", later)
    resolved = AuditEvent.objects.get(action="alert.resolved", target_id=str(overdue.pk))
    assert resolved.at == later


def test_a_running_job_leaves_the_clock_of_every_thread_alone(db: None, clock) -> None:
    at = T0 + timedelta(days=100)
    seen: dict[str, datetime] = {}

    def probe(instant: datetime) -> datetime:
        seen["in the job"] = clock_module.now()
        reader = threading.Thread(target=lambda: seen.setdefault("elsewhere", clock_module.now()))
        reader.start()
        reader.join(timeout=10)
        return instant

    run_job(Job("probe", probe, "interval", {"minutes": 5}, "Probe."), at)
    assert seen == {"in the job": T0, "elsewhere": T0}
    run = JobRun.objects.get(job="probe")
    assert (run.last_instant, run.last_result) == (at, repr(at))
    # Started and finished are when it really ran, for operators.
    assert run.last_started_at <= run.last_finished_at <= timezone.now()
    assert timezone.now() - run.last_started_at < timedelta(minutes=5)


SETS_THE_CLOCK = re.compile(
    r"\bclock(?:_module)?\.(?:freeze|frozen|advance)\("
    r"|from welfare\.core\.clock import [^\n]*\b(?:freeze|frozen|advance)\b"
)


def test_no_production_code_sets_the_process_clock() -> None:
    """Only tests (the injected clock) and the single-threaded bench set it."""
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("backend", "welfare", "schedules")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != ROOT / "welfare" / "core" / "clock.py"
        and SETS_THE_CLOCK.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
