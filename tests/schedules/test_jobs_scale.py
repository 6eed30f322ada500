"""Every scheduled job's cost grows with its batches, not with the population: the same
number of queries for N and 4N officers with work due (each job's work read and written a
batch at a time), and batches of any size write what one batch writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from schedules.jobs import JOBS
from schedules.runner import run_job
from tests.alerts.test_sweeps_in_bulk import log_minutes, new_officer
from tests.conftest import Cast
from welfare.alerts.models import Alert, Notification, OutboundEmail
from welfare.alerts.services import alert_raise
from welfare.audit.models import AuditEvent
from welfare.audit.selectors import audit_chain_verify
from welfare.checkins.models import CheckIn
from welfare.checkins.services import checkin_cancel, checkin_trigger

EVENING = datetime(2027, 3, 10, 18, tzinfo=UTC)


def populate(cast: Cast, n: int) -> None:
    """n officers with work due for every job: in the work for over two years (rotation
    review and tenure), baseline and periodic check-ins long overdue once the schedule makes
    them (escalation to OH), a check-in due yesterday (the status sweep makes it overdue), a
    breach today (exposure limits), an e-mail address (the delivery queue)."""
    for user in (cast.supervisor_a, cast.oh1, cast.oh2):
        user.email = f"{user.username}@example.invalid"
        user.save(update_fields=["email"])
    for i in range(n):
        officer = new_officer(cast, f"scale{n}x{i}")
        officer.postings.update(started_on=date(2024, 9, 1))
        officer.user.email = f"scale{n}x{i}@example.invalid"
        officer.user.save(update_fields=["email"])
        # Overdue once, cancelled since: the escalation job resolves its alert (audited).
        done = checkin_trigger(
            officer_id=officer.pk, due_on=date(2027, 3, 1), key=f"done{i}", at=EVENING
        )
        assert done is not None
        alert_raise(
            officer_id=officer.pk,
            kind="checkin_overdue",
            severity="warning",
            dedupe_key=f"checkin_overdue:{done.pk}",
            checkin=done,
            at=EVENING,
        )
        checkin_cancel(actor=cast.oh1, checkin=done, reason="Seen at another appointment.")
        # Asked for a week ago, due yesterday: the status sweep makes it overdue now.
        checkin_trigger(
            officer_id=officer.pk,
            due_on=date(2027, 3, 9),
            key=f"scale{i}",
            at=EVENING - timedelta(days=7),
        )
        log_minutes(officer, datetime(2027, 3, 10, 8, tzinfo=UTC), 61)


def written() -> dict[str, object]:
    return {
        "alerts": sorted(Alert.objects.values_list("dedupe_key", "severity", "status")),
        "notifications": sorted(Notification.objects.values_list("recipient_id", "dedupe_key")),
        "checkins": sorted(CheckIn.objects.values_list("key", "status")),
        "emails": sorted(OutboundEmail.objects.values_list("to", "subject", "status")),
    }


def run_every_job(at: datetime) -> tuple[dict[str, int], dict[str, object]]:
    """Every job in table order as the scheduler runs it, each one's query count; then the
    next minute's e-mail run, with nothing left to send."""
    counts = {}
    for job in JOBS:
        with CaptureQueriesContext(connection) as queries:
            run_job(job, at)
        counts[job.name] = len(queries)
    emails = next(job for job in JOBS if job.name == "emails")
    with CaptureQueriesContext(connection) as queries:
        run_job(emails, at + timedelta(minutes=1))
    counts["emails, the next minute"] = len(queries)
    return counts, written()


def test_no_job_costs_more_queries_for_four_times_the_officers(
    cast: Cast, clock, tmp_path, settings
) -> None:
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors")
    clock.set(EVENING)
    counts = {}
    for n in (3, 12):
        with transaction.atomic():
            populate(cast, n)
            counts[n], _ = run_every_job(EVENING)
            # Each job found its work: check-ins made overdue, overdue alerts escalated,
            # rotation alerts, breaches, e-mails sent (the runs compared did something).
            assert (
                CheckIn.objects.filter(status_changed_at=EVENING, key__startswith="scale").count()
                == n
            )
            assert Alert.objects.filter(kind="checkin_overdue", escalated_at=EVENING).count() >= n
            assert Alert.objects.filter(kind="rotation_due").count() >= n
            assert Alert.objects.filter(kind="exposure_limit").count() == n
            resolved = Alert.objects.filter(
                resolved_at=EVENING, resolution_note="Check-in cancelled."
            )
            assert resolved.count() == n
            assert AuditEvent.objects.filter(action="alert.resolved").count() == n
            assert audit_chain_verify().ok  # the batch's events chain as one by one
            assert OutboundEmail.objects.filter(status="delivered").count() >= 3 * n
            assert not OutboundEmail.objects.exclude(status="delivered").exists()
            transaction.set_rollback(True)
    grown = {name: (counts[3][name], counts[12][name]) for name in counts[3]}
    assert {name: a for name, (a, b) in grown.items() if a != b} == {}, grown


@pytest.mark.parametrize("job_batch", [1, 2])
def test_small_batches_write_what_one_batch_writes(
    cast: Cast, clock, tmp_path, settings, job_batch: int
) -> None:
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors")
    clock.set(EVENING)
    results = []
    for size, email_batch in ((10_000, 1000), (job_batch, job_batch)):
        settings.JOB_BATCH_SIZE, settings.EMAIL_BATCH_SIZE = size, email_batch
        with transaction.atomic():
            populate(cast, 5)
            _, rows = run_every_job(EVENING)
            # A second run as of the same instant writes nothing new.
            run_every_job(EVENING + timedelta(seconds=1))
            assert written() == rows
            results.append(_portable(rows))
            transaction.set_rollback(True)
    assert results[0] == results[1]


def _portable(rows: dict[str, object]) -> dict[str, object]:
    """What was written, without the ids that differ between two rolled-back runs."""
    alerts = rows["alerts"]
    notes = rows["notifications"]
    checkins = rows["checkins"]
    assert isinstance(alerts, list)
    assert isinstance(notes, list)
    assert isinstance(checkins, list)
    return {
        "alerts": len(alerts),
        "alert_kinds": sorted((key.split(":")[0], sev, st) for key, sev, st in alerts),
        "notifications": len(notes),
        "checkins": sorted(status for _, status in checkins),
        "emails": sorted((to, subject, st) for to, subject, st in rows["emails"]),  # type: ignore[attr-defined]
    }
