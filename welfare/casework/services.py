"""Writes for occupational health: screening (scored, alerts raised), encrypted case notes,
management reports and consent, and the audit of every read of a case."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from welfare.accounts.models import User
from welfare.alerts.models import AlertKind, Severity
from welfare.alerts.services import alert_raise, notify, supervisors_of
from welfare.audit.services import audit_record
from welfare.casework import rules
from welfare.casework.models import CaseNote, ManagementReport, ReportState
from welfare.checkins import instruments
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Screening, Status
from welfare.checkins.services import checkin_trigger
from welfare.core import clock, crypto
from welfare.core.errors import Conflict, DomainError, Forbidden, NotFound
from welfare.core.roles import Role
from welfare.people.models import Officer

UNKNOWN_INSTRUMENT = "Unknown instrument. Installed: {names}."
CHECKIN_NOT_OPEN = "Questionnaires go with an open check-in; this one is {status}."
NOT_YOUR_CHECKIN = "You can only answer questionnaires for your own check-ins."
COMMENT_OH_ONLY = "Only a clinician adds a comment."
BODY_REQUIRED = "Write something."
SUPERSEDED_ALREADY = "That note has an addendum already: add to the latest."
NOTE_OF_ANOTHER_CASE = "That note belongs to another case."
LEGAL_BASIS_REQUIRED = "Disclosure without consent needs its legal basis."
REPORT_NOT_YOURS = "This report is not yours to decide on."
REPORT_READY_SUBJECT = "A report from occupational health"
REPORT_READY_BODY = "Occupational health has a report for you to read before anyone else does."
REPORT_RELEASED_SUBJECT = "A fitness report is available"
REPORT_RELEASED_BODY = "A fitness report about someone in your unit is available to you."

READ_ACTIONS = ("case.read", "case.notes.read", "screening.read", "report.read")


def scoring_config() -> instruments.ScoringConfig:
    return instruments.ScoringConfig(
        cutoffs=settings.SCREENING_CUTOFFS, meaningful_change=settings.SCREENING_MEANINGFUL_CHANGE
    )


# --- Screening ------------------------------------------------------------------------------


def screening_submit(
    *,
    actor: User,
    checkin: CheckIn,
    instrument_key: str,
    answers: object,
    comment: str = "",
) -> Screening:
    """Score a questionnaire and store it; a critical flag raises an urgent alert to OH (never
    to a supervisor); a score over the cut-off a normal one, and a triggered check-in if none
    is open. Invalid answers store nothing."""
    instrument = instruments.get(instrument_key)
    if instrument is None:
        names = ", ".join(i.key for i in instruments.available())
        raise DomainError(UNKNOWN_INSTRUMENT.format(names=names), field="instrument")
    if actor.role == Role.OFFICER:
        if checkin.officer.user_id != actor.pk:
            raise Forbidden(NOT_YOUR_CHECKIN)
        if comment:
            raise DomainError(COMMENT_OH_ONLY, field="comment")
    if checkin.status not in (*OPEN_STATUSES, Status.COMPLETED) or (
        actor.role == Role.OFFICER and checkin.status not in OPEN_STATUSES
    ):
        raise DomainError(CHECKIN_NOT_OPEN.format(status=checkin.status), field="checkin")
    previous = (
        Screening.objects.filter(officer_id=checkin.officer_id, instrument=instrument.key)
        .order_by("-submitted_at", "-id")
        .values_list("total", flat=True)
        .first()
    )
    try:
        values = instrument.validate(answers)
    except instruments.InstrumentError as error:
        raise DomainError(fields={"answers": error.messages}) from error
    result = instrument.score(values, previous_total=previous, config=scoring_config())
    with transaction.atomic():
        screening = Screening.objects.create(
            checkin=checkin,
            officer_id=checkin.officer_id,
            instrument=instrument.key,
            instrument_version=instrument.version,
            answers_encrypted=crypto.encrypt(",".join(str(a) for a in values)),
            comment_encrypted=crypto.encrypt(comment) if comment else None,
            total=result.total,
            band=result.band,
            flags=list(result.flags),
            previous_total=previous,
            change=result.change,
            submitted_by=actor,
            submitted_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="screening.submitted",
            target_type="officer",
            target_id=checkin.officer_id,
            detail={"screening": screening.pk},
        )
        _raise_screening_alerts(screening, instrument.key)
    return screening


CRITICAL_FLAGS = frozenset({"self_harm_thoughts"})
CONCERN_FLAGS = frozenset({"over_cutoff", "dsm5_pattern", "rose_by_10"})


def _raise_screening_alerts(screening: Screening, instrument: str) -> None:
    flags = set(screening.flags)
    detail = {"screening": screening.pk, "instrument": instrument, "flags": sorted(flags)}
    if flags & CRITICAL_FLAGS:
        alert_raise(
            officer_id=screening.officer_id,
            kind=AlertKind.SCREENING_RISK,
            severity=Severity.URGENT,
            dedupe_key=f"screening:{screening.pk}:critical",
            detail=detail,
            clinical=True,
            checkin=screening.checkin,
        )
    if flags & CONCERN_FLAGS:
        alert_raise(
            officer_id=screening.officer_id,
            kind=AlertKind.SCREENING_RISK,
            severity=Severity.WARNING,
            dedupe_key=f"screening:{screening.pk}:concern",
            detail=detail,
            clinical=True,
            checkin=screening.checkin,
        )
        checkin_trigger(
            officer_id=screening.officer_id,
            due_on=clock.today() + timedelta(days=settings.CHECKIN_TRIGGERED_WITHIN_DAYS),
            key=f"triggered:screening:{screening.pk}",
        )


def screening_answers(screening: Screening) -> list[int]:
    return [
        int(part)
        for part in crypto.decrypt(screening.answers_encrypted).split(",")
        if part.isdigit()
    ]


def screening_comment(screening: Screening) -> str:
    return crypto.decrypt(screening.comment_encrypted) if screening.comment_encrypted else ""


# --- Reads that are audited ------------------------------------------------------------------


def record_read(
    *, actor: User, action: str, officer_id: int | None, detail: dict[str, object] | None = None
) -> None:
    """Who read whose clinical record, when; never what they read."""
    audit_record(
        actor=actor,
        action=action,
        target_type="officer" if officer_id is not None else "",
        target_id=officer_id,
        detail=detail,
    )


# --- Notes ----------------------------------------------------------------------------------


def note_write(
    *, actor: User, officer: Officer, body: str, supersedes: CaseNote | None = None
) -> CaseNote:
    if not body.strip():
        raise DomainError(BODY_REQUIRED, field="body")
    with transaction.atomic():
        if supersedes is not None:
            supersedes = CaseNote.objects.select_for_update().get(pk=supersedes.pk)
            if supersedes.officer_id != officer.pk:
                raise DomainError(NOTE_OF_ANOTHER_CASE, field="supersedes")
            if CaseNote.objects.filter(supersedes=supersedes).exists():
                raise Conflict(SUPERSEDED_ALREADY, code="superseded")
        note = CaseNote.objects.create(
            officer=officer,
            body_encrypted=crypto.encrypt(body),
            author=actor,
            created_at=clock.now(),
            supersedes=supersedes,
        )
        audit_record(
            actor=actor,
            action="case.note.written",
            target_type="officer",
            target_id=officer.pk,
            detail={"note": note.pk, "supersedes": supersedes.pk if supersedes else None},
        )
    return note


def note_body(note: CaseNote) -> str:
    return crypto.decrypt(note.body_encrypted)


# --- Management reports and consent ------------------------------------------------------------


def report_draft(
    *,
    actor: User,
    officer: Officer,
    fitness: str,
    adjustments: str = "",
    checkin: CheckIn | None = None,
) -> ManagementReport:
    if checkin is not None and checkin.officer_id != officer.pk:
        raise NotFound()
    with transaction.atomic():
        report = ManagementReport.objects.create(
            officer=officer,
            checkin=checkin,
            fitness=fitness,
            adjustments=adjustments,
            drafted_by=actor,
            drafted_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="report.drafted",
            target_type="report",
            target_id=report.pk,
            detail={"officer": officer.pk},
        )
    return report


def report_act(
    *, actor: User, report: ManagementReport, action: str, legal_basis: str = ""
) -> ManagementReport:
    """Move a report through offer, consent, decline, withdrawal or disclosure; audited."""
    who = rules.who_may(action)
    if who == "officer" and (actor.role != Role.OFFICER or report.officer.user_id != actor.pk):
        raise Forbidden(REPORT_NOT_YOURS)
    if who == "oh" and actor.role != Role.OH:
        raise Forbidden(REPORT_NOT_YOURS)
    if action == "disclose" and not legal_basis.strip():
        raise DomainError(LEGAL_BASIS_REQUIRED, field="legal_basis")
    with transaction.atomic():
        report = (
            ManagementReport.objects.select_for_update().select_related("officer").get(pk=report.pk)
        )
        target = rules.next_state(report.state, action)
        if target is None:
            raise Conflict(rules.not_now(report.state, action), code="invalid_state")
        now = clock.now()
        report.state = target
        stamp = {
            "offer": "offered_at",
            "consent": "consented_at",
            "decline": "declined_at",
            "withdraw": "withdrawn_at",
            "disclose": "disclosed_at",
        }[action]
        setattr(report, stamp, now)
        if action == "disclose":
            report.disclosed_by = actor
            report.legal_basis = legal_basis.strip()
        report.save()
        audit_record(
            actor=actor,
            action=f"report.{target}",
            target_type="report",
            target_id=report.pk,
            detail={"officer": report.officer_id},
        )
        if action == "offer":
            notify(
                recipient=report.officer.user,
                key=f"report:{report.pk}:offered",
                subject=REPORT_READY_SUBJECT,
                body=REPORT_READY_BODY,
                link=settings.SITE_URL.rstrip("/") + f"/reports/{report.pk}",
            )
        if target in (ReportState.CONSENTED, ReportState.DISCLOSED):
            for supervisor in supervisors_of(report.officer_id, clock.today()):
                notify(
                    recipient=supervisor,
                    key=f"report:{report.pk}:{target}:{now.isoformat()}",
                    subject=REPORT_RELEASED_SUBJECT,
                    body=REPORT_RELEASED_BODY,
                    link=settings.SITE_URL.rstrip("/") + f"/reports/{report.pk}",
                )
    return report


def rotate_encryption(*, batch: int = 500) -> int:
    """Re-encrypt every note, screening answer and comment with the current key."""
    rotated = 0
    with transaction.atomic():
        for note in (
            CaseNote.objects.select_for_update()
            .only("pk", "body_encrypted")
            .iterator(chunk_size=batch)
        ):
            CaseNote.objects.filter(pk=note.pk).update(
                body_encrypted=crypto.rotate(note.body_encrypted)
            )
            rotated += 1
        for screening in (
            Screening.objects.select_for_update()
            .only("pk", "answers_encrypted", "comment_encrypted")
            .iterator(chunk_size=batch)
        ):
            Screening.objects.filter(pk=screening.pk).update(
                answers_encrypted=crypto.rotate(screening.answers_encrypted),
                comment_encrypted=crypto.rotate(screening.comment_encrypted)
                if screening.comment_encrypted
                else None,
            )
            rotated += 1
        audit_record(actor=None, action="encryption.rotated", detail={"records": rotated})
    return rotated
