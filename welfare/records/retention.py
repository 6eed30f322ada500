"""The retention job: what is past its retention period is removed, in one transaction, and
the job audits what it did (counts per table, never content).

Retention is one legal act across every app's tables, so it lives here rather than as a
service in each app: the tables it touches are listed below, in the order it removes them,
and a test checks that every table holding an officer's rows is on the list. PostgreSQL
refuses these deletes anywhere else: the application's role has no DELETE on these tables
(backend/db_roles.py), and triggers (migration records/0002 and audit/0003) refuse them even
to the owner unless `welfare.retention` is set, which the job does for its own transaction
only. The job runs on its own connection (DATABASE_RETENTION_URL), as the retention role.

- The health surveillance record (exposure history, postings, check-ins, screenings, case
  notes, reports, restrictions, alerts about the officer) is kept `health_record` years
  (default 40, HSE) from the officer's last entry, and never while a posting is open. Then
  it is removed and the officer and their account are anonymised irreversibly: the rows
  stay only so that audit events and other people's records still point somewhere.
- Resolved alerts, notifications, webhook deliveries and expired sign-in records are kept
  their own period (default 6 years, Limitation Act) from when they ended.
- Audit events older than `audit` years are cut from the start of the chain, never the
  newest, and a checkpoint records the hash the remaining chain starts from.
- An active legal hold on an officer keeps everything about them, and pauses cutting the
  audit trail altogether.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from welfare.audit.models import AuditCheckpoint
from welfare.audit.services import audit_record
from welfare.records.rules import past_retention, years_before

# Every table with an officer's rows, removed with the health record (see the module doc).
OFFICER_TABLES = (
    "exposure_exposuresession",
    "exposure_dailytotal",
    "exposure_weeklytotal",
    "exposure_monthlytotal",
    "exposure_restriction",
    "checkins_screening",
    "casework_managementreport",
    "casework_casenote",
    "alerts_caseowner",
    "alerts_alertoccurrence",
    "alerts_alert",
    "checkins_checkin",
    "checkins_incident",
    "people_posting",
)

# The officer's last entry in their health record: the latest instant any of it changed.
_LAST_ENTRY_SQL = """
SELECT o.id, o.user_id, GREATEST(
    o.created_at,
    (SELECT max(GREATEST(s.ended_at, s.recorded_at, s.changed_at))
       FROM exposure_exposuresession s WHERE s.officer_id = o.id),
    (SELECT max(GREATEST(c.created_at, c.status_changed_at, c.completed_at, c.cancelled_at))
       FROM checkins_checkin c WHERE c.officer_id = o.id),
    (SELECT max(q.submitted_at) FROM checkins_screening q WHERE q.officer_id = o.id),
    (SELECT max(GREATEST(i.created_at, i.withdrawn_at))
       FROM checkins_incident i WHERE i.officer_id = o.id),
    (SELECT max(n.created_at) FROM casework_casenote n WHERE n.officer_id = o.id),
    (SELECT max(GREATEST(r.drafted_at, r.offered_at, r.consented_at, r.declined_at,
                         r.withdrawn_at, r.disclosed_at))
       FROM casework_managementreport r WHERE r.officer_id = o.id),
    (SELECT max(GREATEST(x.created_at, x.lifted_at))
       FROM exposure_restriction x WHERE x.officer_id = o.id),
    (SELECT max(GREATEST(a.raised_at, a.escalated_at, a.ack_escalated_at, a.acknowledged_at,
                         a.resolved_at))
       FROM alerts_alert a WHERE a.officer_id = o.id),
    (SELECT max(GREATEST(p.created_at, p.ended_on::timestamp AT TIME ZONE 'UTC'))
       FROM people_posting p WHERE p.officer_id = o.id),
    (SELECT max(v.decided_at) FROM people_rotationreview v
       JOIN people_posting p ON p.id = v.posting_id WHERE p.officer_id = o.id)
) AS last_entry
FROM people_officer o
WHERE o.staff_number NOT LIKE 'removed-%%'
  AND NOT EXISTS (SELECT 1 FROM people_posting p WHERE p.officer_id = o.id AND p.ended_on IS NULL)
  AND NOT EXISTS (SELECT 1 FROM records_legalhold h
                   WHERE h.officer_id = o.id AND h.lifted_at IS NULL)
"""

_HELD_SQL = "SELECT officer_id FROM records_legalhold WHERE lifted_at IS NULL"
_HELD_ALERTS = f"SELECT id FROM alerts_alert WHERE officer_id IN ({_HELD_SQL})"
_HELD_CHECKINS = f"SELECT id FROM checkins_checkin WHERE officer_id IN ({_HELD_SQL})"


@dataclass
class RetentionReport:
    at: datetime
    removed: dict[str, int] = field(default_factory=dict)
    officers_anonymised: int = 0
    audit_cut_through: int | None = None
    audit_paused_by_hold: bool = False

    def add(self, table: str, count: int) -> None:
        if count:
            self.removed[table] = self.removed.get(table, 0) + count

    @property
    def anything(self) -> bool:
        return bool(self.removed or self.officers_anonymised)


def _delete(cursor: Any, report: RetentionReport, table: str, sql: str, params: list[Any]) -> None:
    cursor.execute(sql, params)
    report.add(table, cursor.rowcount)


def _remove_health_records(
    cursor: Any, report: RetentionReport, officer_ids: list[int], user_ids: list[int]
) -> None:
    ids = [officer_ids]
    _delete(
        cursor,
        report,
        "alerts_notification",
        "DELETE FROM alerts_notification WHERE recipient_id = ANY(%s)"
        " OR alert_id IN (SELECT id FROM alerts_alert WHERE officer_id = ANY(%s))"
        " OR checkin_id IN (SELECT id FROM checkins_checkin WHERE officer_id = ANY(%s))",
        [user_ids, officer_ids, officer_ids],
    )
    _delete(
        cursor,
        report,
        "people_rotationreview",
        "DELETE FROM people_rotationreview WHERE posting_id IN "
        "(SELECT id FROM people_posting WHERE officer_id = ANY(%s))",
        ids,
    )
    for table in OFFICER_TABLES:
        _delete(cursor, report, table, f"DELETE FROM {table} WHERE officer_id = ANY(%s)", ids)
    _delete(
        cursor,
        report,
        "django_otp_webauthn_webauthnattestation",
        "DELETE FROM django_otp_webauthn_webauthnattestation WHERE credential_id IN "
        "(SELECT id FROM django_otp_webauthn_webauthncredential WHERE user_id = ANY(%s))",
        [user_ids],
    )
    _delete(
        cursor,
        report,
        "accounts_totpstepused",
        "DELETE FROM accounts_totpstepused WHERE device_id IN "
        "(SELECT id FROM otp_totp_totpdevice WHERE user_id = ANY(%s))",
        [user_ids],
    )
    for table in (
        "accounts_authtoken",
        "otp_totp_totpdevice",
        "django_otp_webauthn_webauthncredential",
        "django_otp_webauthn_webauthnuserhandle",
        "checkins_calendarfeed",
    ):
        _delete(cursor, report, table, f"DELETE FROM {table} WHERE user_id = ANY(%s)", [user_ids])
    # Irreversible: the names, staff number and sign-in details are gone, the rows remain
    # so that audit events and other people's records still point somewhere.
    for officer_id in officer_ids:
        cursor.execute(
            "UPDATE people_officer SET staff_number = %s, display_name = %s WHERE id = %s",
            [f"removed-{officer_id}", "Removed record", officer_id],
        )
    for user_id in user_ids:
        cursor.execute(
            "UPDATE accounts_user SET username = %s, first_name = '', last_name = '', "
            "email = '', password = %s, is_active = false, is_staff = false, "
            "is_superuser = false WHERE id = %s",
            [f"removed-{user_id}", f"!{secrets.token_urlsafe(30)}", user_id],
        )
    report.officers_anonymised += len(officer_ids)


def _cut_audit(
    cursor: Any, report: RetentionReport, cutoff: datetime, at: datetime, using: str
) -> None:
    """Cut the chain's start: every event before the first one at or after `cutoff`, and
    never the newest, so the next event still links to a row that exists."""
    cursor.execute(
        "SELECT COALESCE((SELECT min(id) FROM audit_auditevent WHERE at >= %s),"
        " (SELECT max(id) FROM audit_auditevent))",
        [cutoff],
    )
    first_kept = cursor.fetchone()[0]
    if first_kept is None:
        return
    cursor.execute(
        "SELECT id, hash FROM audit_auditevent WHERE id < %s ORDER BY id DESC LIMIT 1",
        [first_kept],
    )
    last_removed = cursor.fetchone()
    if last_removed is None:
        return
    _delete(
        cursor,
        report,
        "audit_auditevent",
        "DELETE FROM audit_auditevent WHERE id < %s",
        [first_kept],
    )
    AuditCheckpoint.objects.using(using).create(
        at=at,
        removed_through_id=last_removed[0],
        removed_through_hash=last_removed[1],
        removed_count=report.removed["audit_auditevent"],
        cutoff=cutoff,
    )
    report.audit_cut_through = last_removed[0]


# The database alias of the retention role's connection (settings: DATABASE_RETENTION_URL).
RETENTION_DATABASE = "retention"


@contextmanager
def retention_transaction() -> Iterator[str]:
    """The job's transaction on the retention role's own connection; yields its alias."""
    with transaction.atomic(using=RETENTION_DATABASE):
        yield RETENTION_DATABASE


def retention_sweep(*, at: datetime, years: Mapping[str, int] | None = None) -> RetentionReport:
    """Remove or anonymise everything past retention as of `at`; audit what was done.
    Idempotent: a second run for the same instant finds nothing left to do."""
    periods = {**settings.RETENTION_YEARS, **(years or {})}
    report = RetentionReport(at=at)
    with retention_transaction() as using, connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('welfare.retention', 'on', true)")
        try:
            cursor.execute(_LAST_ENTRY_SQL)
            expired = [
                (officer_id, user_id)
                for officer_id, user_id, last_entry in cursor.fetchall()
                if past_retention(last_entry, periods["health_record"], at)
            ]
            if expired:
                _remove_health_records(
                    cursor,
                    report,
                    [officer_id for officer_id, _ in expired],
                    [user_id for _, user_id in expired],
                )
            _remove_other_records(cursor, report, periods, at)
            cursor.execute(_HELD_SQL + " LIMIT 1")
            if cursor.fetchone() is not None:
                report.audit_paused_by_hold = True
            else:
                _cut_audit(cursor, report, years_before(at, periods["audit"]), at, using)
        finally:
            cursor.execute("SELECT set_config('welfare.retention', 'off', true)")
        if report.anything:
            audit_record(
                actor=None,
                action="retention.run",
                target_type="retention",
                target_id=at.date().isoformat(),
                detail={
                    **{f"removed_{table}": count for table, count in report.removed.items()},
                    "officers_anonymised": report.officers_anonymised,
                    "audit_cut_through": report.audit_cut_through,
                },
                at=at,
                using=using,
            )
    return report


def _remove_other_records(
    cursor: Any, report: RetentionReport, periods: Mapping[str, int], at: datetime
) -> None:
    alerts_before = years_before(at, periods["alerts"])
    old_alerts = (
        "SELECT id FROM alerts_alert WHERE status = 'resolved' AND resolved_at < %s"
        f" AND officer_id NOT IN ({_HELD_SQL})"
    )
    _delete(
        cursor,
        report,
        "alerts_notification",
        f"DELETE FROM alerts_notification WHERE alert_id IN ({old_alerts})",
        [alerts_before],
    )
    _delete(
        cursor,
        report,
        "alerts_alert",
        f"DELETE FROM alerts_alert WHERE id IN ({old_alerts})",
        [alerts_before],
    )
    _delete(
        cursor,
        report,
        "alerts_notification",
        "DELETE FROM alerts_notification WHERE created_at < %s"
        f" AND (alert_id IS NULL OR alert_id NOT IN ({_HELD_ALERTS}))"
        f" AND (checkin_id IS NULL OR checkin_id NOT IN ({_HELD_CHECKINS}))",
        [years_before(at, periods["notifications"])],
    )
    _delete(
        cursor,
        report,
        "alerts_webhookdelivery",
        "DELETE FROM alerts_webhookdelivery WHERE created_at < %s AND status <> 'pending'",
        [years_before(at, periods["webhook_deliveries"])],
    )
    _delete(  # the e-mails sent (a copy of a notification's e-mail-safe text, an address)
        cursor,
        report,
        "alerts_outboundemail",
        "DELETE FROM alerts_outboundemail WHERE created_at < %s AND status <> 'pending'",
        [years_before(at, periods["notifications"])],
    )
    sign_in_before = years_before(at, periods["sign_in"])
    _delete(
        cursor,
        report,
        "accounts_authtoken",
        "DELETE FROM accounts_authtoken WHERE GREATEST(expires_at, revoked_at) < %s",
        [sign_in_before],
    )
    _delete(
        cursor,
        report,
        "accounts_loginthrottle",
        "DELETE FROM accounts_loginthrottle WHERE last_failure_at < %s"
        " AND (locked_until IS NULL OR locked_until < %s)",
        [sign_in_before, sign_in_before],
    )
