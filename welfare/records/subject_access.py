"""A subject access request (UK GDPR Art. 15): everything held about one officer, as JSON.

The export includes the clinical record decrypted (screening answers, case notes, check-in
messages and adjustments, restriction reasons, report adjustments; never a sealed token), so it is
written to a file by an administrator on the server, never served over the API, and the
export itself is audited (counts only). Occupational health reviews it before release: the
law lets them withhold what would cause serious harm (DPA 2018 Sch. 3 para 5), a judgement
this code does not make.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from welfare.alerts.models import Alert, Notification
from welfare.audit.models import AuditEvent
from welfare.audit.services import audit_record
from welfare.casework.models import CaseNote, ManagementReport
from welfare.casework.services import note_body, screening_answers, screening_comment
from welfare.checkins.models import CheckIn, Incident, Screening
from welfare.core import clock
from welfare.core.db import one_snapshot
from welfare.exposure.models import DailyTotal, ExposureSession, Restriction
from welfare.people.models import Officer, Posting, RotationReview
from welfare.records.models import LegalHold

EXPORT_FORMAT = 1
# Never exported: secrets, not information about the person; and no column holding a sealed
# token (every `*_encrypted`): the text in it is exported decrypted, under its own name.
_NEVER = {
    "password",
    "key_hash",
    "body_encrypted",
    "answers_encrypted",
    "comment_encrypted",
    "referral_note_encrypted",
    "adjustments_encrypted",
    "reason_encrypted",
    "secret_encrypted",
}


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    return value


def _row(instance: models.Model, sealed: tuple[str, ...] = ()) -> dict[str, Any]:
    """The row's columns, and the text of its `sealed` attributes decrypted."""
    row = {
        field.attname: _value(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
        if field.name not in _NEVER and not field.name.endswith("_encrypted")
    }
    return row | {name: getattr(instance, name) for name in sealed}


def _rows(instances: Iterable[models.Model], sealed: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [_row(instance, sealed) for instance in instances]


def person_export(*, officer: Officer, reference: str = "") -> dict[str, Any]:
    """Everything held about `officer`, read in one snapshot, and the export audited."""
    with one_snapshot():
        user = officer.user
        postings = Posting.objects.filter(officer=officer).select_related("unit").order_by("id")
        screenings = []
        for screening in Screening.objects.filter(officer=officer).order_by("id"):
            row = _row(screening)
            row["answers"] = screening_answers(screening)
            row["comment"] = screening_comment(screening)
            screenings.append(row)
        notes = []
        for note in CaseNote.objects.filter(officer=officer).order_by("id"):
            row = _row(note)
            row["body"] = note_body(note)
            notes.append(row)
        data: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": clock.now().isoformat(),
            "reference": reference,
            "officer": _row(officer),
            "account": {
                key: _value(getattr(user, key))
                for key in (
                    "id",
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "role",
                    "is_active",
                    "date_joined",
                    "last_login",
                )
            },
            "postings": [{**_row(posting), "unit_name": posting.unit.name} for posting in postings],
            "rotation_reviews": _rows(
                RotationReview.objects.filter(posting__officer=officer).order_by("id")
            ),
            "exposure_sessions": _rows(
                ExposureSession.objects.filter(officer=officer).order_by("id")
            ),
            "daily_totals": _rows(DailyTotal.objects.filter(officer=officer).order_by("day")),
            "restrictions": _rows(
                Restriction.objects.filter(officer=officer).order_by("id"), ("reason",)
            ),
            "checkins": _rows(
                CheckIn.objects.filter(officer=officer).order_by("id"),
                ("referral_note", "adjustments"),
            ),
            "incidents": _rows(Incident.objects.filter(officer=officer).order_by("id")),
            "screenings": screenings,
            "case_notes": notes,
            "management_reports": _rows(
                ManagementReport.objects.filter(officer=officer).order_by("id"), ("adjustments",)
            ),
            "alerts": _rows(Alert.objects.filter(officer=officer).order_by("id")),
            "notifications": _rows(Notification.objects.filter(recipient=user).order_by("id")),
            "legal_holds": _rows(LegalHold.objects.filter(officer=officer).order_by("id")),
            "audit_about_them": _rows(
                AuditEvent.objects.filter(
                    target_type="officer", target_id=str(officer.pk)
                ).order_by("id")
            ),
            "audit_by_them": _rows(AuditEvent.objects.filter(actor=user).order_by("id")),
        }
    counts = {key: len(value) for key, value in data.items() if isinstance(value, list)}
    with transaction.atomic():
        audit_record(
            actor=None,
            action="subject_access.exported",
            target_type="officer",
            target_id=officer.pk,
            detail={"reference": reference, **counts},
        )
    return data
