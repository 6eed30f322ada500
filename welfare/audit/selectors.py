from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from welfare.audit.models import AuditEvent
from welfare.audit.rules import (
    ACCESS_GRANT_PREFIXES,
    CLINICAL_PREFIXES,
    GENESIS_HASH,
    ChainBreak,
    ChainReport,
    Head,
    KeyedFrom,
    keyed_from_verified,
    keyring,
    verify_chain,
)
from welfare.core.db import one_snapshot
from welfare.core.roles import Role


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """Admin sees every event (a clinical one only as that: see `rules.admin_view`); an OH
    clinician sees the events they caused, and an OH lead also every grant, loss and
    recovery of clinical access; nobody else any."""
    events = AuditEvent.objects.all()
    if user.role == Role.ADMIN:
        return events
    if user.role == Role.OH and getattr(user, "is_oh_lead", False):
        grants = Q()
        for prefix in ACCESS_GRANT_PREFIXES:
            grants |= Q(action__startswith=prefix)
        return events.filter(Q(actor=user) | grants)
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
    "prev_hash, hash, key_id FROM audit_auditevent ORDER BY id"
)
# A copy from before keyed hashing (no key_id column): every event is plain SHA-256.
_UNKEYED_CHAIN_SQL = CHAIN_SQL.replace("key_id FROM", "'' FROM")
# Where the chain starts now: the last event the retention job removed.
CHAIN_START_SQL = (
    "SELECT removed_through_id, removed_through_hash FROM audit_auditcheckpoint "
    "ORDER BY removed_through_id DESC LIMIT 1"
)
KEYED_FROM_SQL = (
    "SELECT legacy_through_id, legacy_through_hash, key_id, mac FROM audit_auditkeying "
    "ORDER BY id LIMIT 1"
)
_HAS_KEY_ID_SQL = (
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
    "current_schema() AND table_name = 'audit_auditevent' AND column_name = 'key_id')"
)


def chain_start(cursor: Any) -> tuple[int | None, str]:
    """The id and hash the chain starts from: the latest retention checkpoint's, or the
    genesis (no id)."""
    cursor.execute(CHAIN_START_SQL)
    row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (None, GENESIS_HASH)


def chain_start_hash(cursor: Any) -> str:
    """The hash the chain starts from: the latest retention checkpoint's, or the genesis."""
    return chain_start(cursor)[1]


@dataclass(frozen=True)
class ChainSetting:
    """What verifying a chain needs besides its events: where it starts, how far unkeyed
    events are accepted, and the query that reads it (on this database or a restored copy)."""

    start_id: int | None
    start_hash: str
    keyed_from: KeyedFrom | None
    sql: str


def chain_setting(cursor: Any, *, unkeyed_copy_allowed: bool = False) -> ChainSetting:
    """The setting of the chain `cursor` reads. Only a restored backup from before keyed
    hashing (`unkeyed_copy_allowed`) may lack the key id column; the live chain must have
    it, or dropping it would let an owner rehash everything unkeyed."""
    start_id, start_hash = chain_start(cursor)
    if unkeyed_copy_allowed:
        cursor.execute(_HAS_KEY_ID_SQL)
        if not cursor.fetchone()[0]:
            everything = KeyedFrom(sys.maxsize, None)
            return ChainSetting(start_id, start_hash, everything, _UNKEYED_CHAIN_SQL)
    cursor.execute(KEYED_FROM_SQL)
    keys = keyring(settings.AUDIT_HMAC_KEYS).keys
    return ChainSetting(
        start_id, start_hash, keyed_from_verified(cursor.fetchone(), keys), CHAIN_SQL
    )


def chain_verify_rows(
    setting: ChainSetting, rows: Iterable[Sequence[Any]], *, heads: Sequence[Head] = ()
) -> ChainReport:
    """Verify rows read with `setting.sql` against the keys this server holds."""
    return verify_chain(
        rows,
        keys=keyring(settings.AUDIT_HMAC_KEYS).keys,
        start_hash=setting.start_hash,
        start_id=setting.start_id,
        keyed_from=setting.keyed_from,
        heads=heads,
    )


def audit_chain_verify(*, heads: Sequence[Head] = (), batch_size: int = 5000) -> ChainReport:
    """Verify the whole chain, from its start to the newest event, in one snapshot, and say
    where each head kept elsewhere stands in it."""
    with one_snapshot():
        with connection.cursor() as cursor:
            setting = chain_setting(cursor)
        with connection.chunked_cursor() as events:
            events.execute(setting.sql)
            return chain_verify_rows(setting, fetched_in_batches(events, batch_size), heads=heads)


def fetched_in_batches(cursor: Any, size: int) -> Iterator[Any]:
    """Rows of an executed cursor, `size` at a time (a server-side cursor streams them)."""
    while batch := cursor.fetchmany(size):
        yield from batch


def audit_chain_first_break(*, batch_size: int = 5000) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain in id order; return how many events were read and the first break."""
    report = audit_chain_verify(batch_size=batch_size)
    return report.counted, report.broken
