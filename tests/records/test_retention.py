"""The retention job: health records 40 years from the last entry, others 6, legal holds
respected, the audit trail cut only at its start, and nothing removed any other way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connection

from tests.conftest import Cast, owner_session
from welfare.accounts.models import User
from welfare.alerts.models import Alert, AlertKind, AlertStatus, Severity
from welfare.audit.models import AuditCheckpoint, AuditEvent
from welfare.casework.models import CaseNote
from welfare.casework.services import note_write
from welfare.core import clock as clock_module
from welfare.exposure.models import DailyTotal, ExposureSession, MonthlyTotal, WeeklyTotal
from welfare.exposure.services import exposure_log
from welfare.people.models import Officer, Posting
from welfare.people.services import posting_end
from welfare.records.models import LegalHold
from welfare.records.retention import OFFICER_TABLES, retention_sweep
from welfare.records.rules import past_retention, retained_until, years_before

LEFT = datetime(2027, 3, 10, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "years", "now", "expected"),
    [
        (datetime(2027, 3, 10, tzinfo=UTC), 40, datetime(2067, 3, 9, tzinfo=UTC), False),
        (datetime(2027, 3, 10, tzinfo=UTC), 40, datetime(2067, 3, 10, tzinfo=UTC), True),
        (datetime(2028, 2, 29, tzinfo=UTC), 6, datetime(2034, 2, 27, tzinfo=UTC), False),
        (datetime(2028, 2, 29, tzinfo=UTC), 6, datetime(2034, 2, 28, tzinfo=UTC), True),
        (None, 6, datetime(2090, 1, 1, tzinfo=UTC), False),
    ],
)
def test_past_retention_counts_whole_years_from_the_last_entry(
    last: datetime | None, years: int, now: datetime, expected: bool
) -> None:
    assert past_retention(last, years, now) is expected


def test_years_before_and_retained_until_handle_leap_days() -> None:
    assert years_before(datetime(2032, 2, 29, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert retained_until(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(2029, 2, 28, tzinfo=UTC)


def test_every_table_holding_an_officers_rows_is_removed_with_the_health_record() -> None:
    holding = {
        model._meta.db_table
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Officer
    }
    assert holding - {"records_legalhold"} == set(OFFICER_TABLES)


def _leaver(cast: Cast) -> Officer:
    """officer_a1 views, has a case note, then leaves the unit on the cast's day."""
    officer = cast.officer_a1
    clock_module.freeze(LEFT)  # the cast's clock fixture unfreezes it after the test
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=LEFT - timedelta(hours=8),
        ended_at=LEFT - timedelta(hours=7),
        material="image",
        category="A",
        client_ref=uuid.uuid4(),
    )
    note_write(actor=cast.oh1, officer=officer, body="Synthetic note: coping well.")
    posting = Posting.objects.get(officer=officer, ended_on__isnull=True)
    posting_end(actor=cast.admin, posting=posting, ended_on=LEFT.date())
    return officer


def _rows_of(officer: Officer) -> int:
    return (
        ExposureSession.objects.filter(officer=officer).count()
        + DailyTotal.objects.filter(officer=officer).count()
        + WeeklyTotal.objects.filter(officer=officer).count()
        + MonthlyTotal.objects.filter(officer=officer).count()
        + CaseNote.objects.filter(officer=officer).count()
        + Posting.objects.filter(officer=officer).count()
    )


def test_health_record_is_kept_until_forty_years_after_the_last_entry(cast: Cast) -> None:
    officer = _leaver(cast)
    before = _rows_of(officer)
    assert before >= 4

    report = retention_sweep(at=LEFT + timedelta(days=365 * 40 - 30))

    assert report.officers_anonymised == 0
    assert _rows_of(officer) == before


def test_past_retention_the_record_goes_and_the_person_is_anonymised(cast: Cast) -> None:
    officer = _leaver(cast)
    assert MonthlyTotal.objects.filter(officer=officer).exists()
    at = datetime(2067, 3, 11, tzinfo=UTC)

    report = retention_sweep(at=at)

    assert report.officers_anonymised == 1
    assert _rows_of(officer) == 0
    officer.refresh_from_db()
    user = User.objects.get(pk=officer.user_id)
    assert (officer.staff_number, officer.display_name) == (
        f"removed-{officer.pk}",
        "Removed record",
    )
    assert not user.is_active
    assert user.username == f"removed-{user.pk}"
    assert not user.has_usable_password() or not user.check_password("correct horse battery staple")
    # Colleagues still in post are untouched.
    assert Posting.objects.filter(officer=cast.officer_a2, ended_on__isnull=True).exists()
    run = AuditEvent.objects.get(action="retention.run")
    assert run.detail["officers_anonymised"] == 1
    assert run.detail["removed_exposure_exposuresession"] == 1
    assert "T0001" not in str(run.detail)
    # Idempotent: nothing more of anyone's record goes; the newest audit event, kept by the
    # first run so the chain links on, is past retention too and goes the second time.
    again = retention_sweep(at=at)
    assert set(again.removed) == {"audit_auditevent"}
    assert not retention_sweep(at=at).anything


def test_an_open_posting_keeps_the_record_however_old(cast: Cast) -> None:
    officer = cast.officer_b1
    before = Posting.objects.filter(officer=officer).count()

    report = retention_sweep(at=datetime(2090, 1, 1, tzinfo=UTC))

    assert report.officers_anonymised == 0
    assert Posting.objects.filter(officer=officer).count() == before


def test_a_legal_hold_keeps_everything_and_pauses_the_audit_cut(cast: Cast) -> None:
    officer = _leaver(cast)
    hold = LegalHold.objects.create(
        officer=officer, reason="Claim 2027/001", placed_by=cast.admin, placed_at=LEFT
    )
    before = _rows_of(officer)
    audit_before = AuditEvent.objects.count()

    report = retention_sweep(at=datetime(2070, 1, 1, tzinfo=UTC))

    assert report.officers_anonymised == 0
    assert report.audit_paused_by_hold
    assert _rows_of(officer) == before
    assert AuditEvent.objects.count() == audit_before
    hold.lifted_at, hold.lifted_by = LEFT + timedelta(days=1), cast.admin
    hold.save()
    assert retention_sweep(at=datetime(2070, 1, 1, tzinfo=UTC)).officers_anonymised == 1
    assert _rows_of(officer) == 0


def test_the_audit_trail_is_cut_at_its_start_and_still_verifies(cast: Cast) -> None:
    events = AuditEvent.objects.count()
    newest = AuditEvent.objects.order_by("-id").first()
    assert events > 5
    assert newest is not None

    report = retention_sweep(at=LEFT + timedelta(days=365 * 6 + 2), years={"health_record": 40})

    assert report.audit_cut_through is not None
    remaining = list(AuditEvent.objects.order_by("id"))
    assert remaining[0].pk == newest.pk  # every older event was past six years
    assert remaining[-1].action == "retention.run"
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.removed_count == events - 1
    assert checkpoint.removed_through_hash == remaining[0].prev_hash
    call_command("verify_audit")


def test_resolved_alerts_older_than_six_years_go_open_ones_stay(cast: Cast) -> None:
    def alert(key: str, status: str, resolved_at: datetime | None) -> Alert:
        return Alert.objects.create(
            officer=cast.officer_a2,
            kind=AlertKind.EXPOSURE_LIMIT,
            severity=Severity.WARNING,
            status=status,
            dedupe_key=key,
            raised_at=LEFT,
            resolved_at=resolved_at,
        )

    old = alert("old", AlertStatus.RESOLVED, LEFT)
    still_open = alert("open", AlertStatus.OPEN, None)
    recent = alert("recent", AlertStatus.RESOLVED, LEFT + timedelta(days=365 * 5))

    retention_sweep(at=datetime(2033, 6, 1, tzinfo=UTC))

    kept = set(Alert.objects.values_list("pk", flat=True))
    assert old.pk not in kept
    assert {still_open.pk, recent.pk} <= kept


@pytest.mark.parametrize(
    "table",
    [
        "exposure_exposuresession",
        "casework_casenote",
        "exposure_dailytotal",
        "exposure_weeklytotal",
        "exposure_monthlytotal",
    ],
)
def test_postgresql_refuses_deletes_outside_the_retention_job(cast: Cast, table: str) -> None:
    _leaver(cast)
    with (
        pytest.raises(DatabaseError, match="kept until their retention is over"),
        owner_session(),  # the triggers hold even against the owner
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table}")
