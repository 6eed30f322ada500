"""Writes for units, officers and postings. Each runs in one transaction and audits itself."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower

from welfare.accounts import services as accounts_services
from welfare.accounts.models import User
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.errors import Conflict, DomainError, Forbidden
from welfare.core.roles import Role
from welfare.people import import_rules
from welfare.people.import_files import ImportFileError, read_table
from welfare.people.models import Officer, Posting, RotationReview, Unit, UnitKind
from welfare.people.rules import (
    PostingSpan,
    end_error,
    is_current,
    plan_new_posting,
    posting_date_error,
    rotation_review_problems,
)
from welfare.people.selectors import import_state, spell_postings

UNIT_NAME_TAKEN = "A unit with this name exists already."
DIRECTORY_GROUP_TAKEN = "Another unit is mapped to this directory group already."
SUPERVISOR_ROLE_REQUIRED = "User {user_id} is not an active user of role supervisor."
# Whatever their role: a supervisor who also reviews material is surveilled like any officer.
ACTIVE_USER_REQUIRED = "The user must be an active user."
OFFICER_EXISTS = "This user has an officer record already."
STAFF_NUMBER_TAKEN = "An officer with this staff number exists already."
POSTING_NEEDS_BOTH = "Give both unit and posted_since to open the first posting, or neither."
POSTING_OVERLAP = "The posting would overlap another posting of this officer."
ROLE_LOCKED_SUPERVISOR = "This user supervises units; remove them as supervisor first."


def role_change_guard(user: User, new_role: str) -> str | None:
    """Refuse role changes that would orphan a unit's supervision. An officer record stays
    with its person whatever their role (an officer made a supervisor who still reviews
    material is surveilled as before)."""
    if new_role != Role.SUPERVISOR and Unit.objects.filter(supervisors=user).exists():
        return ROLE_LOCKED_SUPERVISOR
    return None


def _check_supervisors(supervisors: Iterable[User]) -> list[User]:
    chosen = list(supervisors)
    errors = [
        SUPERVISOR_ROLE_REQUIRED.format(user_id=user.pk)
        for user in chosen
        if user.role != Role.SUPERVISOR or not user.is_active
    ]
    if errors:
        raise DomainError(fields={"supervisors": errors})
    return chosen


def _check_unit_name(name: str, *, exclude: int | None = None) -> None:
    clash = Unit.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise DomainError(UNIT_NAME_TAKEN, field="name", code="unique")


def _check_directory_group(group: str | None, *, exclude: int | None = None) -> None:
    clash = Unit.objects.filter(directory_group=group)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if group is not None and clash.exists():
        raise DomainError(DIRECTORY_GROUP_TAKEN, field="directory_group", code="unique")


def unit_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    supervisors: Iterable[User] = (),
    directory_group: str | None = None,
) -> Unit:
    with transaction.atomic():
        _check_unit_name(name)
        _check_directory_group(directory_group or None)
        chosen = _check_supervisors(supervisors)
        unit = Unit.objects.create(
            name=name, kind=kind, created_at=clock.now(), directory_group=directory_group or None
        )
        unit.supervisors.set(chosen)
        audit_record(
            actor=actor,
            action="unit.created",
            target_type="unit",
            target_id=unit.pk,
            detail={
                "kind": kind,
                "supervisors": [u.pk for u in chosen],
                "directory_group": unit.directory_group,
            },
        )
    return unit


def unit_update(*, actor: User | None, unit: Unit, changes: dict[str, Any]) -> Unit:
    """Rename a unit, change its kind or supervisors, or map it to a directory group
    (`directory_group`, None: not provisioned from the directory)."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit.pk)
        changed: list[str] = []
        detail: dict[str, Any] = {}
        if "name" in changes and changes["name"] != unit.name:
            _check_unit_name(changes["name"], exclude=unit.pk)
            unit.name = changes["name"]
            changed.append("name")
        group = changes.get("directory_group", unit.directory_group) or None
        if group != unit.directory_group:
            _check_directory_group(group, exclude=unit.pk)
            unit.directory_group = group
            detail["directory_group"] = group
            changed.append("directory_group")
        if "kind" in changes and changes["kind"] != unit.kind:
            unit.kind = changes["kind"]
            detail["kind"] = unit.kind
            changed.append("kind")
        if changed:
            unit.save()
        if "supervisors" in changes:
            chosen = _check_supervisors(changes["supervisors"])
            before = set(unit.supervisors.values_list("pk", flat=True))
            after = {u.pk for u in chosen}
            if before != after:
                unit.supervisors.set(chosen)
                changed.append("supervisors")
                detail["supervisors"] = sorted(after)
        if changed:
            audit_record(
                actor=actor,
                action="unit.updated",
                target_type="unit",
                target_id=unit.pk,
                detail={"changed": changed, **detail},
            )
    return unit


def _open_posting(*, actor: User | None, officer: Officer, unit: Unit, started_on: date) -> Posting:
    """Insert a posting (PostgreSQL refuses overlaps) and audit it."""
    try:
        with transaction.atomic():
            posting = Posting.objects.create(
                officer=officer, unit=unit, started_on=started_on, created_at=clock.now()
            )
    except IntegrityError as exc:
        raise DomainError(POSTING_OVERLAP, field="started_on", code="overlap") from exc
    audit_record(
        actor=actor,
        action="posting.started",
        target_type="officer",
        target_id=officer.pk,
        detail={"posting": posting.pk, "unit": unit.pk, "started_on": str(started_on)},
    )
    return posting


def _close_posting(*, actor: User | None, posting: Posting, ended_on: date) -> None:
    posting.ended_on = ended_on
    posting.save(update_fields=["ended_on"])
    audit_record(
        actor=actor,
        action="posting.ended",
        target_type="officer",
        target_id=posting.officer_id,
        detail={"posting": posting.pk, "ended_on": str(ended_on)},
    )


def officer_create(
    *,
    actor: User | None,
    user: User,
    staff_number: str,
    display_name: str,
    unit: Unit | None = None,
    posted_since: date | None = None,
) -> Officer:
    if (unit is None) != (posted_since is None):
        raise DomainError(POSTING_NEEDS_BOTH, field="posted_since", code="required")
    if not user.is_active:
        raise DomainError(ACTIVE_USER_REQUIRED, field="user")
    if posted_since is not None and (out_of_range := posting_date_error(posted_since)):
        raise DomainError(out_of_range, field="posted_since")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if Officer.objects.filter(user=user).exists():
            raise DomainError(OFFICER_EXISTS, field="user", code="unique")
        if Officer.objects.filter(staff_number__iexact=staff_number).exists():
            raise DomainError(STAFF_NUMBER_TAKEN, field="staff_number", code="unique")
        officer = Officer.objects.create(
            user=user, staff_number=staff_number, display_name=display_name, created_at=clock.now()
        )
        audit_record(
            actor=actor, action="officer.created", target_type="officer", target_id=officer.pk
        )
        if unit is not None and posted_since is not None:
            _open_posting(actor=actor, officer=officer, unit=unit, started_on=posted_since)
    return officer


def officer_update(*, actor: User | None, officer: Officer, changes: dict[str, Any]) -> Officer:
    with transaction.atomic():
        officer = Officer.objects.select_for_update().get(pk=officer.pk)
        changed: list[str] = []
        if "staff_number" in changes and changes["staff_number"] != officer.staff_number:
            taken = Officer.objects.filter(staff_number__iexact=changes["staff_number"]).exclude(
                pk=officer.pk
            )
            if taken.exists():
                raise DomainError(STAFF_NUMBER_TAKEN, field="staff_number", code="unique")
            officer.staff_number = changes["staff_number"]
            changed.append("staff_number")
        if "display_name" in changes and changes["display_name"] != officer.display_name:
            officer.display_name = changes["display_name"]
            changed.append("display_name")
        if changed:
            officer.save()
            audit_record(
                actor=actor,
                action="officer.updated",
                target_type="officer",
                target_id=officer.pk,
                detail={"changed": changed},
            )
    return officer


def posting_start(*, actor: User | None, officer: Officer, unit: Unit, started_on: date) -> Posting:
    """Post an officer to a unit; the open posting, if any, ends the day before."""
    with transaction.atomic():
        Officer.objects.select_for_update().get(pk=officer.pk)
        open_posting = Posting.objects.filter(officer=officer, ended_on__isnull=True).first()
        latest_end = (
            Posting.objects.filter(officer=officer, ended_on__isnull=False)
            .order_by("-ended_on")
            .values_list("ended_on", flat=True)
            .first()
        )
        end_open_on, error = plan_new_posting(
            open_posting=PostingSpan(open_posting.started_on, None) if open_posting else None,
            latest_closed_end=latest_end,
            start=started_on,
        )
        if error:
            raise DomainError(error, field="started_on")
        if open_posting is not None and end_open_on is not None:
            _close_posting(actor=actor, posting=open_posting, ended_on=end_open_on)
        return _open_posting(actor=actor, officer=officer, unit=unit, started_on=started_on)


def posting_end(*, actor: User | None, posting: Posting, ended_on: date) -> Posting:
    """End an officer's posting without a new one (leaving the specialist work)."""
    with transaction.atomic():
        posting = Posting.objects.select_for_update().get(pk=posting.pk)
        error = end_error(PostingSpan(posting.started_on, posting.ended_on), ended_on)
        if error:
            raise DomainError(error, field="ended_on")
        _close_posting(actor=actor, posting=posting, ended_on=ended_on)
    return posting


ROTATION_NOT_YOURS = "Only a supervisor of the unit, or occupational health, decides rotation."
POSTING_ENDED = "This posting has ended: there is nothing to review."


def rotation_review_record(
    *,
    actor: User,
    posting: Posting,
    decision: str,
    next_review_on: date | None = None,
    rotate_by: date | None = None,
    note: str = "",
) -> RotationReview:
    """Record a rotation decision (stay with a new review date, or rotate by a date). It
    applies to the whole spell in the work: given a posting that a restructure ended, it is
    recorded on the posting that continues the spell today, whose supervisors decide."""
    today = clock.today()
    posting = Posting.objects.select_related("unit").get(pk=posting.pk)  # as it stands now
    if posting.ended_on is not None and posting.ended_on < today:
        posting = next(
            (
                p
                for p in spell_postings(posting)
                if is_current(PostingSpan(p.started_on, p.ended_on), today)
            ),
            posting,
        )
    if actor.role == Role.SUPERVISOR and not posting.unit.supervisors.filter(pk=actor.pk).exists():
        raise Forbidden(ROTATION_NOT_YOURS)
    if Officer.objects.filter(pk=posting.officer_id, user_id=actor.pk).exists():
        raise Forbidden(ROTATION_NOT_YOURS)
    if actor.role not in (Role.SUPERVISOR, Role.OH):
        raise Forbidden(ROTATION_NOT_YOURS)
    if posting.ended_on is not None and posting.ended_on < today:
        raise DomainError(POSTING_ENDED, field="posting")
    problems = rotation_review_problems(
        decision=decision, next_review_on=next_review_on, rotate_by=rotate_by, today=today
    )
    if problems:
        raise DomainError(fields={k: [v] for k, v in problems.items()})
    with transaction.atomic():
        review = RotationReview.objects.create(
            posting=posting,
            decision=decision,
            next_review_on=next_review_on if decision == "stay" else None,
            rotate_by=rotate_by if decision == "rotate" else None,
            note=note,
            decided_by=actor,
            decided_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="rotation.reviewed",
            target_type="officer",
            target_id=posting.officer_id,
            detail={"posting": posting.pk, "decision": decision},
        )
    return review


# --- Bulk import of units, people and postings (README, "Bulk import (CSV/XLSX)") ------------

IMPORT_ADMIN_ONLY = "Only an administrator imports units, people and postings."
# Any constant will do: it names the lock that serialises imports.
_IMPORT_LOCK_KEY = 0x_1A9_0127
IMPORT_FILE_CHANGED = "This is not the file that was previewed: preview it again."
IMPORT_PLAN_CHANGED = (
    "Units, people or postings changed since the preview, so the import would not do what "
    "it showed: preview the file again."
)
IMPORT_REJECTED = (
    "{count} rows are rejected: nothing was imported. Correct the file and preview it again."
)


@dataclass(frozen=True)
class ImportReport:
    sha256: str
    format: str
    plan: import_rules.Plan
    applied: bool = False

    @property
    def plan_sha256(self) -> str:
        return self.plan.fingerprint()


class ImportRejected(DomainError):
    """Apply refused: rejected rows. The answer carries the report of every row."""

    def __init__(self, report: ImportReport) -> None:
        rejected = report.plan.counts()[import_rules.REJECTED]
        super().__init__(IMPORT_REJECTED.format(count=rejected), code="import_rejected")
        self.report = report

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **import_report_body(self.report)}


def import_report_body(report: ImportReport) -> dict[str, Any]:
    """The report as the API answers it (and the web page shows it)."""
    plan = report.plan
    return {
        "sha256": report.sha256,
        "plan_sha256": report.plan_sha256,
        "format": report.format,
        "applied": report.applied,
        "can_apply": plan.can_apply,
        "counts": plan.counts(),
        "rows": [
            {
                "row": r.row,
                "kind": r.kind,
                "key": r.key,
                "outcome": r.outcome,
                "changes": list(r.changes),
                "notes": list(r.notes),
                "errors": {name: list(messages) for name, messages in r.errors.items()},
            }
            for r in plan.rows
        ],
    }


def _import_admin_only(actor: User) -> None:
    if actor.role != Role.ADMIN or not actor.is_active:
        raise Forbidden(IMPORT_ADMIN_ONLY)


def _import_plan(*, actor: User, content: bytes, lock: bool) -> ImportReport:
    _import_admin_only(actor)
    try:
        table = read_table(content, max_rows=settings.PEOPLE_IMPORT_MAX_ROWS)
    except ImportFileError as exc:
        raise DomainError(exc.message, field="file") from exc
    state = import_state(actor=actor, rows=table.rows, unit_kinds=UnitKind.values, lock=lock)
    plan = import_rules.plan_import(table.rows, state)
    return ImportReport(hashlib.sha256(content).hexdigest(), table.format, plan)


def people_import_preview(*, actor: User, content: bytes) -> ImportReport:
    """What importing the file would do, row by row. Changes nothing."""
    return _import_plan(actor=actor, content=content, lock=False)


def people_import_apply(
    *, actor: User, content: bytes, sha256: str, plan_sha256: str
) -> ImportReport:
    """Apply a previewed file in one transaction, through the services that make each
    record (so their checks and audit events apply), with one audit event for the import
    (counts and the file's digest, never its content). Refused, changing nothing: another
    file than the one previewed (409), any rejected row (400), or a plan that differs from
    the preview's because the service changed meanwhile (409). A file applied twice changes
    nothing the second time (every row is unchanged)."""
    _import_admin_only(actor)
    digest = hashlib.sha256(content).hexdigest()
    if not hmac.compare_digest(digest, sha256.lower()):
        raise Conflict(IMPORT_FILE_CHANGED, code="file_changed")
    with transaction.atomic():
        # One import at a time, each planning on what the one before committed.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_IMPORT_LOCK_KEY])
        report = _import_plan(actor=actor, content=content, lock=True)
        if not report.plan.can_apply:
            raise ImportRejected(report)
        if not hmac.compare_digest(report.plan_sha256, plan_sha256.lower()):
            raise Conflict(IMPORT_PLAN_CHANGED, code="plan_changed")
        if not report.plan.steps:
            return replace(report, applied=True)
        _import_steps(actor=actor, steps=report.plan.steps)
        counts = report.plan.counts()
        audit_record(
            actor=actor,
            action="people.imported",
            target_type="import",
            target_id=digest[:16],
            detail={
                "sha256": digest,
                "format": report.format,
                "rows": len(report.plan.rows),
                "created": counts[import_rules.CREATED],
                "changed": counts[import_rules.CHANGED],
                "unchanged": counts[import_rules.UNCHANGED],
            },
        )
    return replace(report, applied=True)


def _import_steps(*, actor: User, steps: Iterable[import_rules.Step]) -> None:
    units = {u.name.lower(): u for u in Unit.objects.all()}
    officers: dict[str, Officer] = {}

    def officer_by_staff(staff_number: str) -> Officer:
        key = staff_number.lower()
        if key not in officers:
            officers[key] = Officer.objects.get(staff_number__iexact=staff_number)
        return officers[key]

    for step in steps:
        if isinstance(step, import_rules.UnitCreate):
            unit = unit_create(actor=actor, name=step.name, kind=step.kind)
            units[unit.name.lower()] = unit
        elif isinstance(step, import_rules.UnitChange):
            unit = unit_update(
                actor=actor, unit=Unit.objects.get(pk=step.unit_id), changes={"kind": step.kind}
            )
            units[unit.name.lower()] = unit
        elif isinstance(step, import_rules.PersonCreate):
            user = accounts_services.user_create(
                actor=actor,
                username=step.username,
                role=step.role,
                email=step.email,
                no_password=True,
                directory_id=step.directory_id,
            )
            if step.role == Role.OFFICER:
                assert step.staff_number is not None
                assert step.display_name is not None
                officer = officer_create(
                    actor=actor,
                    user=user,
                    staff_number=step.staff_number,
                    display_name=step.display_name,
                )
                officers[officer.staff_number.lower()] = officer
        elif isinstance(step, import_rules.PersonChange):
            _import_person_change(actor=actor, step=step, officers=officers)
        elif isinstance(step, import_rules.PostingCreate):
            posting = posting_start(
                actor=actor,
                officer=officer_by_staff(step.staff_number),
                unit=units[step.unit.lower()],
                started_on=step.started_on,
            )
            if step.ended_on is not None:
                posting_end(actor=actor, posting=posting, ended_on=step.ended_on)
        else:
            posting_end(
                actor=actor, posting=Posting.objects.get(pk=step.posting_id), ended_on=step.ended_on
            )


def _import_person_change(
    *, actor: User, step: import_rules.PersonChange, officers: dict[str, Officer]
) -> None:
    user = User.objects.get(pk=step.account_id)
    deactivating = step.account.get("is_active") is False

    def officer_changes() -> None:
        if step.officer_create is not None:
            staff_number, display_name = step.officer_create
            officer = officer_create(
                actor=actor, user=user, staff_number=staff_number, display_name=display_name
            )
            officers[officer.staff_number.lower()] = officer
        if step.display_name is not None:
            officer_update(
                actor=actor,
                officer=Officer.objects.get(user=user),
                changes={"display_name": step.display_name},
            )

    # An officer record needs an active account: made before a deactivation, after an
    # activation.
    if deactivating:
        officer_changes()
    if step.account:
        user = accounts_services.user_update(actor=actor, user=user, changes=dict(step.account))
    if not deactivating:
        officer_changes()
