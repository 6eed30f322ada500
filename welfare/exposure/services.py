"""Writes for exposure: logging, amending, voiding and importing sessions; policies and
restrictions. Each runs in one transaction and keeps the daily totals in step."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from welfare.accounts.models import User
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.db import next_id
from welfare.core.errors import Conflict, DomainError, Forbidden
from welfare.core.roles import Role
from welfare.core.sealed import Resealed, reseal_table
from welfare.exposure import rules, totals
from welfare.exposure.models import (
    ExposurePolicy,
    ExposureSession,
    Restriction,
    SessionState,
    Source,
)
from welfare.people.models import Officer, Unit
from welfare.people.selectors import supervised_unit_ids, unit_of_officer_on

NO_OFFICER_RECORD = "Your account has no officer record: ask an administrator to create one."
NOT_CURRENT = "This version is not the current one ({state}); change version {current} instead."
CHANGE_WINDOW_PASSED = (
    "Sessions older than {days} days can only be changed by a supervisor of your unit."
)
CHANGE_NOT_ALLOWED = "Your role cannot change exposure sessions."
REASON_REQUIRED = "Give a reason."
NOTHING_TO_AMEND = "Change at least one field."
UNKNOWN_STAFF_NUMBER = "No officer with this staff number in the units you may import for."
WEIGHTS_FORCE_ONLY = rules.WEIGHTS_FORCE_ONLY
UNIT_POLICY_EXISTS = "This unit has a policy already: change that one."
FORCE_POLICY_EXISTS = "The force policy exists already; add policies for units."
RESTRICTION_EMPTY = "A restriction must limit something: daily or weekly minutes, or media."
RESTRICTION_BACKWARDS = "The last day cannot be before the first."
DEFAULT_WEIGHTS = rules.DEFAULT_WEIGHTS
AMENDABLE_FIELDS = (
    "started_at", "ended_at", "material", "category", "violent", "items_reviewed", "activity",
    "note",
)  # fmt: skip


# --- Policy access --------------------------------------------------------------------------


def force_policy() -> ExposurePolicy:
    policy = ExposurePolicy.objects.filter(unit__isnull=True).first()
    if policy is None:  # the migration creates it; a bare database still gets the defaults
        policy = ExposurePolicy.objects.create(
            unit=None,
            weights=DEFAULT_WEIGHTS.to_json(),
            updated_at=clock.now(),
            **rules.FORCE_DEFAULTS,
        )
    return policy


def current_weights() -> rules.Weights:
    return rules.Weights.from_json(force_policy().weights or DEFAULT_WEIGHTS.to_json())


# --- Sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogResult:
    session: ExposureSession
    created: bool


def _whole_seconds(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def _times_refusal(started_at: datetime, ended_at: datetime) -> DomainError | None:
    problems = rules.session_problems(
        started_at=started_at,
        ended_at=ended_at,
        now=clock.now(),
        max_hours=settings.EXPOSURE_MAX_SESSION_HOURS,
        skew=timedelta(seconds=settings.EXPOSURE_FUTURE_SKEW_SECONDS),
    )
    if problems:
        return DomainError(fields={name: [message] for name, message in problems.items()})
    return None


def _check_times(started_at: datetime, ended_at: datetime) -> None:
    refused = _times_refusal(started_at, ended_at)
    if refused is not None:
        raise refused


def _constraint_of(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _overlapping(started_at: datetime, ended_at: datetime) -> Q:
    """Current sessions overlapping [started_at, ended_at) (of an officer, when filtered)."""
    return Q(
        state=SessionState.CURRENT,
        started_at__lt=ended_at,
        ended_at__gt=started_at,
        started_at__gt=started_at - timedelta(hours=24),  # no session is longer
    )


def _first_overlapping(
    officer_id: int, started_at: datetime, ended_at: datetime
) -> ExposureSession | None:
    return (
        ExposureSession.objects.filter(_overlapping(started_at, ended_at), officer_id=officer_id)
        .order_by("started_at")
        .first()
    )


def _overlap_message(other: ExposureSession | None) -> DomainError:
    zone = clock.local_zone()
    message = rules.OVERLAP.format(
        started=other.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if other else "?",
        ended=other.ended_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if other else "?",
    )
    return DomainError(message, field="started_at", code="overlap")


def _affected_days(*spans: tuple[datetime, datetime]) -> set[date]:
    zone = clock.local_zone()
    return {day for start, end in spans for day in rules.local_days(start, end, zone)}


def _overlap_refusal(
    officer_id: int, started_at: datetime, ended_at: datetime
) -> DomainError | None:
    """Read after the officer's lock, so a session committed meanwhile is seen; the
    exclusion constraint stays the last word (see `_insert_version`)."""
    other = _first_overlapping(officer_id, started_at, ended_at)
    return None if other is None else _overlap_message(other)


def _insert_version(**fields: Any) -> ExposureSession:
    """Insert a session version, in a savepoint. Every writer holds the officer's lock, so
    the overlap read has seen what the exclusion constraint would find; if a writer ever
    does not, the constraint's refusal is answered as the read's would have been."""
    try:
        with transaction.atomic():
            return ExposureSession.objects.create(**fields)
    except IntegrityError as error:
        if _constraint_of(error) == "exposure_no_overlap":
            other = _first_overlapping(
                fields["officer_id"], fields["started_at"], fields["ended_at"]
            )
            raise _overlap_message(other) from error
        raise


def exposure_log(
    *,
    officer: Officer,
    recorded_by: User,
    started_at: datetime,
    ended_at: datetime,
    material: str,
    category: str,
    client_ref: uuid.UUID,
    violent: bool = False,
    items_reviewed: int | None = None,
    activity: str = "",
    note: str = "",
    source: str = Source.SELF,
) -> LogResult:
    """Record a session, in one transaction: the officer's lock (their writes one at a
    time, so the reads after it see every session committed before), a retry's stored
    session (the same client_ref again returns it and creates nothing), the time and
    overlap checks, the insert, the day's totals and the audit event.

    Part of the caller's transaction when there is one (no savepoint of its own: a refusal
    is raised after the block, having written nothing, so the caller's transaction goes
    on, as an import's next row does)."""
    started_at, ended_at = _whole_seconds(started_at), _whole_seconds(ended_at)
    with transaction.atomic(savepoint=False):
        outcome = _log_locked(
            officer=officer,
            recorded_by=recorded_by,
            started_at=started_at,
            ended_at=ended_at,
            material=material,
            category=category,
            client_ref=client_ref,
            violent=violent,
            items_reviewed=items_reviewed,
            activity=activity,
            note=note,
            source=source,
        )
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _log_locked(
    *,
    officer: Officer,
    recorded_by: User,
    started_at: datetime,
    ended_at: datetime,
    material: str,
    category: str,
    client_ref: uuid.UUID,
    violent: bool,
    items_reviewed: int | None,
    activity: str,
    note: str,
    source: str,
) -> LogResult | DomainError:
    """`exposure_log`'s steps, a refusal returned rather than raised."""
    totals.lock_officer(officer.pk)
    retry = ExposureSession.objects.filter(officer_id=officer.pk, client_ref=client_ref)
    # The retry's stored session and the current ones the new one would overlap, in one
    # read (both by index). Current sessions never overlap each other, so few come back.
    found = list(
        ExposureSession.objects.filter(officer_id=officer.pk)
        .filter(Q(client_ref=client_ref) | _overlapping(started_at, ended_at))
        .order_by("started_at")
    )
    stored = next((s for s in found if s.client_ref == client_ref), None)
    if stored is not None:
        return LogResult(stored, created=False)
    refused = _times_refusal(started_at, ended_at) or (
        _overlap_message(found[0]) if found else None
    )
    if refused is not None:
        return refused
    try:
        session = _insert_version(
            officer_id=officer.pk,
            started_at=started_at,
            ended_at=ended_at,
            material=material,
            category=category,
            violent=violent,
            items_reviewed=items_reviewed,
            activity=activity or "",
            note=note or "",
            source=source,
            client_ref=client_ref,
            recorded_at=clock.now(),
            recorded_by=recorded_by,
        )
    except (IntegrityError, DomainError) as error:
        # A writer without the officer's lock (no path of this service) stored this
        # client_ref, or an overlapping session, meanwhile: answered as the retry it is, or
        # refused as the overlap read would have refused it.
        if stored := retry.first():
            return LogResult(stored, created=False)
        if isinstance(error, DomainError):
            return error
        raise
    totals.recompute_days(
        officer_id=officer.pk, days=_affected_days((started_at, ended_at)), weights=None
    )
    audit_record(
        actor=recorded_by,
        action="exposure.logged",
        target_type="exposure",
        target_id=session.pk,
        detail={"officer": officer.pk, "source": source},
    )
    return LogResult(session, created=True)


def _check_may_change(session: ExposureSession, actor: User) -> None:
    if actor.role == Role.OFFICER:
        window = timedelta(days=settings.EXPOSURE_OFFICER_CHANGE_DAYS)
        if session.officer.user_id != actor.pk:
            raise Forbidden(CHANGE_NOT_ALLOWED)
        if clock.now() - session.started_at > window:
            raise Forbidden(CHANGE_WINDOW_PASSED.format(days=window.days), code="window_passed")
        return
    if actor.role == Role.SUPERVISOR:
        unit = unit_of_officer_on(session.officer_id, clock.today())
        if unit is None or unit not in supervised_unit_ids(actor):
            raise Forbidden(CHANGE_NOT_ALLOWED)
        return
    raise Forbidden(CHANGE_NOT_ALLOWED)


def _lock_current(session: ExposureSession) -> ExposureSession:
    locked = (
        ExposureSession.objects.select_for_update().select_related("officer").get(pk=session.pk)
    )
    if locked.state != SessionState.CURRENT:
        current = (
            ExposureSession.objects.filter(lineage=locked.lineage)
            .order_by("-version")
            .values_list("pk", flat=True)
            .first()
        )
        raise Conflict(NOT_CURRENT.format(state=locked.state, current=current), code="not_current")
    return locked


def exposure_amend(
    *,
    session: ExposureSession,
    actor: User,
    reason: str,
    changes: Mapping[str, Any],
    client_ref: uuid.UUID | None = None,
) -> ExposureSession:
    """A new version that supersedes this one; the old stays, marked superseded."""
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, field="reason")
    if client_ref is not None:
        stored = ExposureSession.objects.filter(
            officer_id=session.officer_id, client_ref=client_ref
        ).first()
        if stored is not None:
            return stored
    with transaction.atomic():
        totals.lock_officer(session.officer_id)
        old = _lock_current(session)
        _check_may_change(old, actor)
        values = {name: getattr(old, name) for name in AMENDABLE_FIELDS}
        changed = [
            name for name in AMENDABLE_FIELDS if name in changes and changes[name] != values[name]
        ]
        if not changed:
            raise DomainError(NOTHING_TO_AMEND, code="no_change")
        values.update({name: changes[name] for name in changed})
        values["started_at"] = _whole_seconds(values["started_at"])
        values["ended_at"] = _whole_seconds(values["ended_at"])
        _check_times(values["started_at"], values["ended_at"])
        now = clock.now()
        ExposureSession.objects.filter(pk=old.pk).update(
            state=SessionState.SUPERSEDED, changed_at=now, changed_by=actor
        )
        new = _insert_version(
            officer_id=old.officer_id,
            lineage=old.lineage,
            version=old.version + 1,
            source=old.source,
            client_ref=client_ref,
            recorded_at=now,
            recorded_by=actor,
            reason=reason.strip(),
            **values,
        )
        ExposureSession.objects.filter(pk=old.pk).update(superseded_by=new)
        totals.recompute_days(
            officer_id=old.officer_id,
            days=_affected_days((old.started_at, old.ended_at), (new.started_at, new.ended_at)),
            weights=None,
        )
        audit_record(
            actor=actor,
            action="exposure.amended",
            target_type="exposure",
            target_id=new.pk,
            detail={"supersedes": old.pk, "officer": old.officer_id, "changed": changed},
        )
    return new


def exposure_void(*, session: ExposureSession, actor: User, reason: str) -> ExposureSession:
    """Mark a session void: it stays on record but no longer counts."""
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, field="reason")
    with transaction.atomic():
        totals.lock_officer(session.officer_id)
        old = _lock_current(session)
        _check_may_change(old, actor)
        ExposureSession.objects.filter(pk=old.pk).update(
            state=SessionState.VOID,
            changed_at=clock.now(),
            changed_by=actor,
            void_reason=reason.strip(),
        )
        totals.recompute_days(
            officer_id=old.officer_id,
            days=_affected_days((old.started_at, old.ended_at)),
            weights=None,
        )
        audit_record(
            actor=actor,
            action="exposure.voided",
            target_type="exposure",
            target_id=old.pk,
            detail={"officer": old.officer_id},
        )
    old.refresh_from_db()
    return old


# --- Import ---------------------------------------------------------------------------------


@dataclass
class ImportRow:
    row: int
    status: str
    id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)


def import_client_ref(raw: str) -> uuid.UUID:
    """A review tool's own row id as a stable UUID (a UUID passes through unchanged)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"welfare-import:{raw}")


def importable_officers(actor: User) -> dict[str, Officer]:
    """Staff number (upper case) -> officer, for the officers the actor may import for."""
    officers = Officer.objects.all()
    if actor.role == Role.SUPERVISOR:
        from welfare.people.selectors import officers_visible_to

        officers = officers_visible_to(actor)
    elif actor.role != Role.ADMIN:
        return {}
    return {officer.staff_number.upper(): officer for officer in officers}


def exposure_import(
    *, actor: User, rows: Iterable[tuple[int, Mapping[str, Any] | None, dict[str, list[str]]]]
) -> ImportReport:
    """Store each valid row once (idempotent on its client_ref); report every row.

    `rows` carries (row number, validated values or None, field errors). Each row runs in
    its own savepoint, so good rows are kept whatever happens to bad ones.
    """
    with transaction.atomic():  # one import, one transaction; each row in a savepoint
        report = ImportReport()
        officers = importable_officers(actor)
        valid: list[tuple[int, int, Officer, Mapping[str, Any]]] = []
        for number, values, errors in rows:
            if values is None:
                report.rows.append(ImportRow(number, "rejected", errors=errors))
                continue
            officer = officers.get(str(values["staff_number"]).upper())
            if officer is None:
                report.rows.append(
                    ImportRow(number, "rejected", errors={"staff_number": [UNKNOWN_STAFF_NUMBER]})
                )
                continue
            valid.append((officer.pk, number, officer, values))
        # Officer by officer, so two imports at once take the officers' locks in the same order.
        for _, number, officer, values in sorted(valid, key=lambda item: (item[0], item[1])):
            fields = {k: v for k, v in values.items() if k not in {"staff_number", "client_ref"}}
            try:
                with transaction.atomic():
                    result = exposure_log(
                        officer=officer,
                        recorded_by=actor,
                        client_ref=import_client_ref(str(values["client_ref"])),
                        source=Source.IMPORT,
                        **fields,
                    )
            except DomainError as error:
                report.rows.append(ImportRow(number, "rejected", errors=_as_fields(error)))
                continue
            status = "created" if result.created else "duplicate"
            report.rows.append(ImportRow(number, status, id=result.session.pk))
        report.rows.sort(key=lambda row: row.row)
        audit_record(
            actor=actor,
            action="exposure.imported",
            target_type="import",
            detail={
                "created": report.count("created"),
                "duplicates": report.count("duplicate"),
                "rejected": report.count("rejected"),
            },
        )
    return report


def _as_fields(error: DomainError) -> dict[str, list[str]]:
    body = error.body()
    if "detail" in body:
        return {"non_field_errors": [str(body["detail"])]}
    return {name: list(messages) for name, messages in body.items()}


# --- Policies and restrictions ---------------------------------------------------------------

POLICY_FIELDS = (*rules.LIMIT_FIELDS, "weights")


def policy_update(
    *, actor: User, policy: ExposurePolicy, changes: Mapping[str, Any]
) -> ExposurePolicy:
    """Change a policy layer; changed weights rebuild every daily total's weighted index."""
    with transaction.atomic():
        policy = ExposurePolicy.objects.select_for_update().get(pk=policy.pk)
        changed = [
            name
            for name in POLICY_FIELDS
            if name in changes and changes[name] != getattr(policy, name)
        ]
        if not changed:
            return policy
        problems = rules.policy_change_problems(
            is_force=policy.unit_id is None, changes={name: changes[name] for name in changed}
        )
        if problems:
            raise DomainError(fields={name: [text] for name, text in problems.items()})
        for name in changed:
            setattr(policy, name, changes[name])
        policy.updated_at = clock.now()
        policy.save()
        if "weights" in changed:
            totals.rebuild(weights=rules.Weights.from_json(policy.weights or {}))
        audit_record(
            actor=actor,
            action="policy.updated",
            target_type="exposure_policy",
            target_id=policy.pk,
            detail={"changed": changed, "unit": policy.unit_id},
        )
    return policy


def policy_create_for_unit(*, actor: User, unit: Unit, values: Mapping[str, Any]) -> ExposurePolicy:
    with transaction.atomic():
        if ExposurePolicy.objects.filter(unit=unit).exists():
            raise DomainError(UNIT_POLICY_EXISTS, field="unit", code="unique")
        if values.get("weights") is not None:
            raise DomainError(WEIGHTS_FORCE_ONLY, field="weights")
        policy = ExposurePolicy.objects.create(
            unit=unit,
            updated_at=clock.now(),
            **{k: v for k, v in values.items() if k in rules.LIMIT_FIELDS},
        )
        audit_record(
            actor=actor,
            action="policy.created",
            target_type="exposure_policy",
            target_id=policy.pk,
            detail={
                "unit": unit.pk,
                "fields": sorted(k for k, v in values.items() if v is not None),
            },
        )
    return policy


def restriction_create(
    *,
    actor: User,
    officer: Officer,
    starts_on: date,
    ends_on: date | None = None,
    daily_minutes: int | None = None,
    week_minutes: int | None = None,
    forbidden_media: Iterable[str] = (),
    reason: str = "",
) -> Restriction:
    media = sorted(set(forbidden_media))
    if daily_minutes is None and week_minutes is None and not media:
        raise DomainError(RESTRICTION_EMPTY, code="empty")
    if ends_on is not None and ends_on < starts_on:
        raise DomainError(RESTRICTION_BACKWARDS, field="ends_on")
    with transaction.atomic():
        restriction = Restriction(
            id=next_id(Restriction),  # the reason is sealed bound to the row's id
            officer=officer,
            starts_on=starts_on,
            ends_on=ends_on,
            daily_minutes=daily_minutes,
            week_minutes=week_minutes,
            forbidden_media=media,
            created_by=actor,
            created_at=clock.now(),
        )
        restriction.reason = reason
        restriction.save(force_insert=True)
        audit_record(
            actor=actor,
            action="restriction.created",
            target_type="officer",
            target_id=officer.pk,
            detail={"restriction": restriction.pk},
        )
    return restriction


def restriction_lift(*, actor: User, restriction: Restriction) -> Restriction:
    with transaction.atomic():
        restriction = Restriction.objects.select_for_update().get(pk=restriction.pk)
        if restriction.lifted_at is None:
            restriction.lifted_at = clock.now()
            restriction.lifted_by = actor
            restriction.save(update_fields=["lifted_at", "lifted_by"])
            audit_record(
                actor=actor,
                action="restriction.lifted",
                target_type="officer",
                target_id=restriction.officer_id,
                detail={"restriction": restriction.pk},
            )
    return restriction


def restrictions_reseal(*, batch: int = 500) -> dict[str, Resealed]:
    """Key rotation: every restriction's reason under the current key (owner only)."""
    return {
        Restriction._meta.db_table: reseal_table(Restriction, ("reason_encrypted",), batch=batch)
    }
