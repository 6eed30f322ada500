from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from welfare.audit.models import AuditEvent
from welfare.audit.rules import (
    GENESIS_HASH,
    canonical_content,
    canonical_ip,
    event_hash,
    keyring,
)
from welfare.core import clock
from welfare.core.context import client_ip, system_actor

anchor_log = logging.getLogger("welfare.audit.anchor")

# Any constant will do: it only names the lock that serialises writers of the chain.
_CHAIN_LOCK_KEY = 0x_A0D1_7C4A


def _clean_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep detail to plain JSON scalars and lists so it hashes the same after a round trip."""
    if not detail:
        return {}
    cleaned: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, bool | int | str) or value is None:
            cleaned[str(key)] = value
        elif isinstance(value, list | tuple | set | frozenset):
            items = sorted(value) if isinstance(value, set | frozenset) else list(value)
            cleaned[str(key)] = [str(item) for item in items]
        else:
            cleaned[str(key)] = str(value)
    return cleaned


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target_type: str = "",
    target_id: object = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    ip: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> AuditEvent:
    """Append an event to the chain, inside the caller's transaction.

    Writers are serialised by a transaction-scoped advisory lock, so the event
    before this one is the newest committed row; the lock is released when the
    caller's transaction ends, with the change the event records. `using`: the
    connection the caller's transaction is on (the retention job has its own).
    """
    # No savepoint of its own: an event that cannot be written fails the caller's change.
    with transaction.atomic(using=using, savepoint=False):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        prev_hash = row[0] if row else GENESIS_HASH
        instant = at or clock.now()
        actor_id = getattr(actor, "pk", None)
        actor_role = str(getattr(actor, "role", "") or "") if actor is not None else system_actor()
        fields = {
            "at": instant,
            "actor_id": actor_id,
            "actor_role": actor_role,
            "action": action,
            "target_type": target_type,
            "target_id": "" if target_id is None else str(target_id),
            "ip": canonical_ip(ip if ip is not None else client_ip()),
            "detail": _clean_detail(detail),
        }
        keys = keyring(settings.AUDIT_HMAC_KEYS)
        digest = event_hash(prev_hash, canonical_content(**fields), keys.current_key)  # type: ignore[arg-type]
        return AuditEvent.objects.using(using).create(
            prev_hash=prev_hash, hash=digest, key_id=keys.current, **fields
        )


@dataclass(frozen=True)
class AuditEntry:
    """One event of `audit_record_many`."""

    action: str
    target_type: str = ""
    target_id: object = None
    detail: Mapping[str, Any] | None = None


def audit_record_many(
    *,
    actor: Any | None,
    entries: Sequence[AuditEntry],
    at: datetime | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[AuditEvent]:
    """Append events in the given order, exactly as `audit_record` would one by one (same
    lock, same chain), reading the chain's head once and inserting in one statement per
    thousand: a sweep that acts on thousands of rows audits each at the cost of a few."""
    if not entries:
        return []
    with transaction.atomic(using=using, savepoint=False):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        prev_hash = row[0] if row else GENESIS_HASH
        instant = at or clock.now()
        actor_id = getattr(actor, "pk", None)
        actor_role = str(getattr(actor, "role", "") or "") if actor is not None else system_actor()
        ip = canonical_ip(client_ip())
        keys = keyring(settings.AUDIT_HMAC_KEYS)
        events = []
        for entry in entries:
            fields = {
                "at": instant,
                "actor_id": actor_id,
                "actor_role": actor_role,
                "action": entry.action,
                "target_type": entry.target_type,
                "target_id": "" if entry.target_id is None else str(entry.target_id),
                "ip": ip,
                "detail": _clean_detail(entry.detail),
            }
            digest = event_hash(prev_hash, canonical_content(**fields), keys.current_key)  # type: ignore[arg-type]
            events.append(
                AuditEvent(prev_hash=prev_hash, hash=digest, key_id=keys.current, **fields)
            )
            prev_hash = digest
        # One INSERT per batch: PostgreSQL numbers its rows in order, so ids follow the chain.
        return AuditEvent.objects.using(using).bulk_create(events, batch_size=1000)


def audit_reads(
    *, actor: Any, action: str, reads: Iterable[tuple[int, int]], key: str
) -> list[AuditEvent]:
    """One read event per officer whose clinical text was shown, naming the records read
    (`reads` are (officer id, record id) pairs): what their "who opened my record" lists."""
    by_officer: dict[int, list[int]] = {}
    for officer_id, record_id in reads:
        by_officer.setdefault(officer_id, []).append(record_id)
    return [
        audit_record(
            actor=actor,
            action=action,
            target_type="officer",
            target_id=officer_id,
            detail={key: sorted(ids)},
        )
        for officer_id, ids in sorted(by_officer.items())
    ]


@dataclass(frozen=True)
class Anchor:
    at: datetime
    last_id: int | None
    last_hash: str | None
    count: int

    def as_json(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "last_id": self.last_id,
                "last_hash": self.last_hash,
                "count": self.count,
            },
            sort_keys=True,
        )


def _append_line(path: Path, line: str) -> None:
    """Append one line to `path`, created readable by its owner only; an existing file is
    only ever appended to (it may be append-only: `chattr +a`)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def audit_anchor_write(*, at: datetime | None = None, file: Path | None = None) -> Anchor:
    """Read the chain's head (newest committed event's id and hash, and how many events) and
    keep it outside the database: a log line on `welfare.audit.anchor` and, when configured,
    a JSON line appended to AUDIT_ANCHOR_FILE. `verify_audit --anchor-file` later proves
    no anchored event was cut from the tail or rewritten.

    Not itself audited: an event for it would change the head it has just written (each
    anchor would be stale at once, and a quiet system would grow by one event an hour).
    The scheduler's job table records each run; the anchors themselves are the record."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id, e.hash, (SELECT count(*) FROM audit_auditevent) "
            "FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1"
        )
        row = cursor.fetchone()
    last_id, last_hash, count = (int(row[0]), str(row[1]), int(row[2])) if row else (None, None, 0)
    anchor = Anchor(at or clock.now(), last_id, last_hash, count)
    anchor_log.info("audit anchor last_id=%s last_hash=%s count=%s", last_id, last_hash, count)
    target = file or (Path(settings.AUDIT_ANCHOR_FILE) if settings.AUDIT_ANCHOR_FILE else None)
    if target is not None:
        _append_line(target, anchor.as_json())
    return anchor
