from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from welfare.audit.models import AuditEvent
from welfare.audit.rules import ChainBreak, ChainedEvent, first_break
from welfare.core.roles import Role


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """Admin sees every event; an OH clinician sees the events they caused; nobody else any."""
    events = AuditEvent.objects.all()
    if user.role == Role.ADMIN:
        return events
    if user.role == Role.OH:
        return events.filter(actor=user)
    return events.none()


def _chain(batch_size: int) -> Iterator[ChainedEvent]:
    rows = (
        AuditEvent.objects.order_by("id")
        .values_list(
            "id",
            "at",
            "actor_id",
            "actor_role",
            "action",
            "target_type",
            "target_id",
            "ip",
            "detail",
            "prev_hash",
            "hash",
        )
        .iterator(chunk_size=batch_size)
    )
    for row in rows:
        yield ChainedEvent(*row)


def audit_chain_first_break(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain in id order; return how many events were read and the first break."""
    counted = 0

    def counting() -> Iterator[ChainedEvent]:
        nonlocal counted
        for event in _chain(batch_size):
            counted += 1
            yield event

    broken = first_break(counting())
    return counted, broken
