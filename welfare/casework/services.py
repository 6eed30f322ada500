"""Writes for occupational health: screening (scored, alerts raised), encrypted case notes,
management reports and consent, and the audit of every read of a case."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from welfare.accounts.models import User
from welfare.accounts.services import otp_seeds_reseal
from welfare.alerts import rules as alert_rules
from welfare.alerts.models import Alert, AlertKind, Notification, Severity
from welfare.alerts.services import alert_raise, notify, supervisors_of, webhooks_reseal
from welfare.audit.models import AuditEvent
from welfare.audit.services import audit_record
from welfare.casework import rules
from welfare.casework.models import CaseNote, ManagementReport, ReportState, SupportContact
from welfare.checkins import instruments
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Screening, Status
from welfare.checkins.services import checkin_trigger, checkins_reseal
from welfare.core import clock, sealed
from welfare.core.db import next_id
from welfare.core.errors import Conflict, DomainError, Forbidden, NotFound
from welfare.core.roles import Role
from welfare.exposure.services import restrictions_reseal
from welfare.people.models import Officer

UNKNOWN_INSTRUMENT = "Unknown instrument. Installed: {names}."
SELF_CHECK_OFFICERS_ONLY = "A self-check is an officer's own questionnaire."
SCREENING_NOT_SAVED = (
    "Your answers could not be saved, so occupational health has not been told yet. "
    "Please try again in a few minutes."
)
SUPPORT_NOT_SAVED = (
    "Your answers could not be saved, so occupational health has not been told yet. If you "
    "need to talk to someone now, use one of the contacts below."
)
SUPPORT_ANYTIME = (
    "You can also ask occupational health for a confidential check-in: your supervisor is not told."
)
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
REPORT_WITHDRAWN_SUBJECT = "A fitness report is no longer available"
REPORT_WITHDRAWN_BODY = (
    "A fitness report about someone in your unit that you could read is no longer available "
    "to you. Do not keep or pass on anything you noted from it."
)
REPORT_DISCLOSED_SUBJECT = "A report about you was shared without your consent"
REPORT_DISCLOSED_BODY = (
    "Occupational health has shared a fitness report about you with your supervisor without "
    "your consent. The legal basis they gave: \u201c{legal_basis}\u201d. You can read the "
    "report, and ask occupational health about it."
)

log = logging.getLogger(__name__)

# Reads of an officer's clinical record, listed in their "who opened my record".
READ_ACTIONS = (
    "case.read",
    "case.notes.read",
    "screening.read",
    "report.read",
    "checkin.read",
    "restriction.read",
    "subject_access.exported",
)


def scoring_config() -> instruments.ScoringConfig:
    return instruments.ScoringConfig(
        cutoffs=settings.SCREENING_CUTOFFS, meaningful_change=settings.SCREENING_MEANINGFUL_CHANGE
    )


# --- Screening ------------------------------------------------------------------------------


class ScreeningNotSaved(DomainError):
    """A questionnaire with a critical answer could not be stored (and so its urgent alert
    not raised): the officer is told so, and shown where to get help now, all the same."""

    status_code = 503
    default_code = "not_saved"

    def __init__(self, support: dict[str, object]) -> None:
        super().__init__(SCREENING_NOT_SAVED)
        self.support = support

    def body(self) -> dict[str, object]:
        return {**super().body(), "support": self.support}


def screening_submit(
    *,
    actor: User,
    checkin: CheckIn | None,
    instrument_key: str,
    answers: object,
    comment: str = "",
) -> Screening:
    """Score a questionnaire and store it, for a check-in or (`checkin` None) as an officer's
    self-check. A critical flag raises an urgent alert to OH (never to a supervisor) in the
    same transaction; a concerning result a normal one, and a triggered check-in if none is
    open. Invalid answers store nothing. If a questionnaire with a critical flag cannot be
    stored, nothing is, and ScreeningNotSaved carries the support message."""
    instrument = instruments.get(instrument_key)
    if instrument is None:
        names = ", ".join(i.key for i in instruments.available())
        raise DomainError(UNKNOWN_INSTRUMENT.format(names=names), field="instrument")
    officer_id = _screening_officer(actor, checkin, comment)
    try:
        values = instrument.validate(answers)
    except instruments.InstrumentError as error:
        raise DomainError(fields={"answers": error.messages}) from error
    critical = instrument.critical(instrument.score(values, config=scoring_config()).flags)
    try:
        with transaction.atomic():
            return _screening_store(actor, checkin, officer_id, instrument, values, comment)
    except Exception as error:
        if not critical:
            raise
        log.error("a screening with a critical answer was not stored", exc_info=True)
        raise ScreeningNotSaved(support_info(saved=False).as_dict()) from error


def _screening_officer(actor: User, checkin: CheckIn | None, comment: str) -> int:
    if actor.role == Role.OFFICER and comment:
        raise DomainError(COMMENT_OH_ONLY, field="comment")
    if checkin is None:
        officer = Officer.objects.filter(user=actor).first() if actor.role == Role.OFFICER else None
        if officer is None:
            raise Forbidden(SELF_CHECK_OFFICERS_ONLY)
        return officer.pk
    if actor.role == Role.OFFICER and checkin.officer.user_id != actor.pk:
        raise Forbidden(NOT_YOUR_CHECKIN)
    if checkin.status not in (*OPEN_STATUSES, Status.COMPLETED) or (
        actor.role == Role.OFFICER and checkin.status not in OPEN_STATUSES
    ):
        raise DomainError(CHECKIN_NOT_OPEN.format(status=checkin.status), field="checkin")
    return checkin.officer_id


def _screening_store(
    actor: User,
    checkin: CheckIn | None,
    officer_id: int,
    instrument: instruments.Instrument,
    values: list[int],
    comment: str,
) -> Screening:
    previous = (
        Screening.objects.filter(officer_id=officer_id, instrument=instrument.key)
        .order_by("-submitted_at", "-id")
        .values_list("total", flat=True)
        .first()
    )
    result = instrument.score(values, previous_total=previous, config=scoring_config())
    screening = Screening(
        id=next_id(Screening),  # answers and comment are sealed bound to the row's id
        checkin=checkin,
        officer_id=officer_id,
        instrument=instrument.key,
        instrument_version=instrument.version,
        total=result.total,
        band=result.band,
        flags=list(result.flags),
        previous_total=previous,
        change=result.change,
        submitted_by=actor,
        submitted_at=clock.now(),
    )
    sealed.seal_into(screening, "answers_encrypted", ",".join(str(a) for a in values))
    sealed.seal_into(screening, "comment_encrypted", comment)
    screening.save(force_insert=True)
    audit_record(
        actor=actor,
        action="screening.submitted",
        target_type="officer",
        target_id=officer_id,
        detail={"screening": screening.pk},
    )
    _raise_screening_alerts(screening, instrument)
    return screening


CONCERN_FLAGS = frozenset({"over_cutoff", "dsm5_pattern", "rose_by_10"})


def _raise_screening_alerts(screening: Screening, instrument: instruments.Instrument) -> None:
    flags = set(screening.flags)
    detail = {"screening": screening.pk, "instrument": instrument.key, "flags": sorted(flags)}
    if instrument.critical(screening.flags):
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
            confidential=True,  # a supervisor could infer a score from it
        )


def screening_contact_by(screening: Screening) -> datetime | None:
    """When OH will have been in touch about a critical answer: its urgent alert's deadline."""
    return (
        Alert.objects.filter(dedupe_key=f"screening:{screening.pk}:critical")
        .values_list("ack_due_at", flat=True)
        .first()
    )


# --- Crisis support -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportInfo:
    """What an officer is shown at a moment of risk, and on "get help now": where to get help
    now, what happens next, and who sees their answers. Texts are settings; the contacts are
    the active SupportContact rows."""

    message: str
    danger: str
    follow_up: str
    contact_by: datetime | None
    who_sees: str
    contacts: list[SupportContact]

    def as_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "danger": self.danger,
            "follow_up": self.follow_up,
            "contact_by": self.contact_by.isoformat() if self.contact_by else None,
            "who_sees": self.who_sees,
            "contacts": [
                {
                    "name": c.name,
                    "how": c.how,
                    "phone": c.phone,
                    "hours": c.hours,
                    "note": c.note,
                }
                for c in self.contacts
            ],
        }


def support_contacts() -> list[SupportContact]:
    """The active contacts; the national lines whenever none is active (never nobody)."""
    contacts = list(SupportContact.objects.filter(active=True).order_by("position", "id"))
    return contacts or [SupportContact(**row) for row in rules.DEFAULT_SUPPORT_CONTACTS]


def support_contact_save(*, actor: User | None, contact: SupportContact) -> SupportContact:
    """An administrator adds or changes a contact; audited."""
    with transaction.atomic():
        created = contact.pk is None
        contact.save()
        audit_record(
            actor=actor,
            action="support_contact.created" if created else "support_contact.changed",
            target_type="support_contact",
            target_id=contact.pk,
        )
    return contact


def support_info(
    *, answered: bool = True, contact_by: datetime | None = None, saved: bool = True
) -> SupportInfo:
    """The support message. `answered`: shown with a questionnaire's critical answer (False:
    the "get help now" page). `contact_by`: an urgent alert was raised and OH will have been
    in touch by then. `saved` False: the answers could not be stored, so OH was not told."""
    if not saved:
        follow_up = SUPPORT_NOT_SAVED
    elif contact_by is not None:
        follow_up = settings.SUPPORT_PROMISE.format(
            by=alert_rules.deadline_words(contact_by, clock.now(), clock.local_zone())
        )
    else:
        follow_up = SUPPORT_ANYTIME
    return SupportInfo(
        message=settings.SUPPORT_INTRO if answered else settings.SUPPORT_PAGE_INTRO,
        danger=settings.SUPPORT_DANGER,
        follow_up=follow_up,
        contact_by=contact_by,
        who_sees=settings.SUPPORT_WHO_SEES,
        contacts=support_contacts(),
    )


def screening_answers(screening: Screening) -> list[int]:
    return [
        int(part)
        for part in sealed.unseal_from(screening, "answers_encrypted").split(",")
        if part.isdigit()
    ]


def screening_comment(screening: Screening) -> str:
    return sealed.unseal_from(screening, "comment_encrypted")


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


_SUPERSEDE_LOCK = 0x_CA5E  # any constant: names the lock on a note being superseded


def note_write(
    *, actor: User, officer: Officer, body: str, supersedes: CaseNote | None = None
) -> CaseNote:
    if not body.strip():
        raise DomainError(BODY_REQUIRED, field="body")
    with transaction.atomic():
        if supersedes is not None:
            # Notes are never updated, so the application cannot lock one FOR UPDATE (that
            # needs UPDATE): a lock on the superseded note's id keeps a second writer out.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [_SUPERSEDE_LOCK, supersedes.pk]
                )
            supersedes = CaseNote.objects.get(pk=supersedes.pk)
            if supersedes.officer_id != officer.pk:
                raise DomainError(NOTE_OF_ANOTHER_CASE, field="supersedes")
            if CaseNote.objects.filter(supersedes=supersedes).exists():
                raise Conflict(SUPERSEDED_ALREADY, code="superseded")
        note = CaseNote(
            id=next_id(CaseNote),  # the body is sealed bound to the row's id
            officer=officer,
            author=actor,
            created_at=clock.now(),
            supersedes=supersedes,
        )
        sealed.seal_into(note, "body_encrypted", body)
        note.save(force_insert=True)
        audit_record(
            actor=actor,
            action="case.note.written",
            target_type="officer",
            target_id=officer.pk,
            detail={"note": note.pk, "supersedes": supersedes.pk if supersedes else None},
        )
    return note


def note_body(note: CaseNote) -> str:
    return sealed.unseal_from(note, "body_encrypted")


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
        report = ManagementReport(
            id=next_id(ManagementReport),  # the adjustments are sealed bound to the row's id
            officer=officer,
            checkin=checkin,
            fitness=fitness,
            drafted_by=actor,
            drafted_at=clock.now(),
        )
        report.adjustments = adjustments
        report.save(force_insert=True)
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
        report.save(update_fields=["state", stamp, "disclosed_by", "legal_basis"])
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
        if target == ReportState.WITHDRAWN:
            # No link: the report is no longer theirs to open. No content, no reason.
            for supervisor in _report_holders(report):
                notify(
                    recipient=supervisor,
                    key=f"report:{report.pk}:withdrawn:{now.isoformat()}",
                    subject=REPORT_WITHDRAWN_SUBJECT,
                    body=REPORT_WITHDRAWN_BODY,
                )
        if target == ReportState.DISCLOSED:
            notify(
                recipient=report.officer.user,
                key=f"report:{report.pk}:disclosed",
                subject=REPORT_DISCLOSED_SUBJECT,
                body=REPORT_DISCLOSED_BODY.format(legal_basis=report.legal_basis),
                link=settings.SITE_URL.rstrip("/") + f"/reports/{report.pk}",
                confidential=True,
            )
    return report


def _report_holders(report: ManagementReport) -> list[User]:
    """Who may hold what a released report said: the supervisors told it was available, and
    any supervisor who read it (the reads are audited), whatever unit they are in now."""
    told = Notification.objects.filter(
        dedupe_key__startswith=f"report:{report.pk}:{ReportState.CONSENTED}:"
    ).values("recipient_id")
    readers = AuditEvent.objects.filter(
        action="report.read",
        target_type="officer",
        target_id=str(report.officer_id),
        detail__report=report.pk,
    ).values("actor_id")
    return list(
        User.objects.filter(Q(pk__in=told) | Q(pk__in=readers), is_active=True).order_by("pk")
    )


@dataclass(frozen=True)
class Rotation:
    """What key rotation did, per table: rows resealed and tokens no configured key reads."""

    tables: dict[str, sealed.Resealed]

    @property
    def total(self) -> int:
        return sum(t.rows for t in self.tables.values())

    @property
    def unreadable(self) -> int:
        return sum(t.unreadable for t in self.tables.values())


def rotate_encryption(*, batch: int = 500) -> Rotation:
    """Reseal everything sealed under the current (first) key, bound to its row: case notes,
    screenings, check-in texts, restriction reasons, management reports, webhook secrets and
    TOTP seeds (legacy Fernet tokens gain the binding). Batches of `batch` rows, each its own
    transaction, so it can be run again after an interruption; audited with the counts per
    table. Runs as the owner: the application's role may not rewrite clinical text."""
    tables: dict[str, sealed.Resealed] = {
        CaseNote._meta.db_table: sealed.reseal_table(CaseNote, ("body_encrypted",), batch=batch),
        ManagementReport._meta.db_table: sealed.reseal_table(
            ManagementReport, ("adjustments_encrypted",), batch=batch
        ),
        Screening._meta.db_table: sealed.reseal_table(
            Screening, ("answers_encrypted", "comment_encrypted"), batch=batch
        ),
        **checkins_reseal(batch=batch),
        **restrictions_reseal(batch=batch),
        **webhooks_reseal(batch=batch),
        **otp_seeds_reseal(batch=batch),
    }
    rotation = Rotation(tables=tables)
    with transaction.atomic():
        audit_record(
            actor=None,
            action="encryption.rotated",
            # Flat, as audit detail is: rows resealed per table, and per table the values
            # no configured key reads (left as they were).
            detail={
                "records": rotation.total,
                "unreadable": rotation.unreadable,
                **{name: t.rows for name, t in tables.items()},
                **{f"{name}_unreadable": t.unreadable for name, t in tables.items()},
            },
        )
    return rotation
