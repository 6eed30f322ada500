from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from welfare.audit.models import AuditEvent
from welfare.audit.rules import (
    CLINICAL_PREFIXES,
    GENESIS_HASH,
    ChainBreak,
    ChainReport,
    verify_chain,
)
from welfare.core.db import one_snapshot
from welfare.core.roles import Role


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """Admin sees every event (a clinical one only as that: see `rules.admin_view`); an OH
    clinician sees the events they caused; nobody else any."""
    events = AuditEvent.objects.all()
    if user.role == Role.ADMIN:
        return events
    if user.role == Role.OH:
        return events.filter(actor=user)
    return events.none()


def clinical_events() -> QuerySet[AuditEvent]:
    """Events about clinical records (`rules.is_clinical`), as a query."""
    match = Q()
    for prefix in CLINICAL_PREFIXES:
        match |= Q(action__startswith=prefix)
    return AuditEvent.objects.filter(match)


# The chain in id order, readable on any connection (a restored copy included).
CHAIN_SQL = (
    "SELECT id, at, actor_id, actor_role, action, target_type, target_id, host(ip), detail, "
    "prev_hash, hash FROM audit_auditevent ORDER BY id"
)
# Where the chain starts now: the hash of the last event the retention job removed.
CHAIN_START_SQL = (
    "SELECT removed_through_hash FROM audit_auditcheckpoint ORDER BY removed_through_id DESC "
    "LIMIT 1"
)


def chain_start_hash(cursor: Any) -> str:
    """The hash the chain starts from: the latest retention checkpoint's, or the genesis."""
    cursor.execute(CHAIN_START_SQL)
    row = cursor.fetchone()
    return str(row[0]) if row else GENESIS_HASH


def audit_chain_verify(*, batch_size: int = 5000) -> ChainReport:
    """Verify the whole chain, from its start to the newest event, in one snapshot."""
    with one_snapshot():
        with connection.cursor() as cursor:
            start_hash = chain_start_hash(cursor)
        with connection.chunked_cursor() as events:
            events.execute(CHAIN_SQL)
            return verify_chain(fetched_in_batches(events, batch_size), start_hash=start_hash)


def fetched_in_batches(cursor: Any, size: int) -> Iterator[Any]:
    """Rows of an executed cursor, `size` at a time (a server-side cursor streams them)."""
    while batch := cursor.fetchmany(size):
        yield from batch


def audit_chain_first_break(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain in id order; return how many events were read and the first break."""
    report = audit_chain_verify(batch_size=batch_size)
    return report.counted, report.broken
