from __future__ import annotations

from django.db import IntegrityError, transaction

from welfare.accounts.models import User
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.errors import Conflict, DomainError
from welfare.people.models import Officer
from welfare.records.models import LegalHold

HOLD_EXISTS = "This officer is under a legal hold already."
HOLD_LIFTED = "This legal hold has been lifted already."


def legal_hold_place(*, actor: User, officer: Officer, reason: str) -> LegalHold:
    """Keep everything about the officer past retention until the hold is lifted."""
    try:
        with transaction.atomic():
            hold = LegalHold.objects.create(
                officer=officer, reason=reason, placed_by=actor, placed_at=clock.now()
            )
            audit_record(
                actor=actor,
                action="legal_hold.placed",
                target_type="officer",
                target_id=officer.pk,
                detail={"hold": hold.pk},
            )
    except IntegrityError as exc:
        raise DomainError(HOLD_EXISTS, field="officer", code="unique") from exc
    return hold


def legal_hold_lift(*, actor: User, hold: LegalHold) -> LegalHold:
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.lifted_at is not None:
            raise Conflict(HOLD_LIFTED)
        hold.lifted_at, hold.lifted_by = clock.now(), actor
        hold.save(update_fields=["lifted_at", "lifted_by"])
        audit_record(
            actor=actor,
            action="legal_hold.lifted",
            target_type="officer",
            target_id=hold.officer_id,
            detail={"hold": hold.pk},
        )
    return hold
