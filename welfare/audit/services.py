from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from welfare.audit.models import AuditEvent
from welfare.audit.rules import GENESIS_HASH, canonical_content, canonical_ip, event_hash
from welfare.core import clock
from welfare.core.context import client_ip

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
) -> AuditEvent:
    """Append an event to the chain, inside the caller's transaction.

    Writers are serialised by a transaction-scoped advisory lock, so the event
    before this one is the newest committed row; the lock is released when the
    caller's transaction ends, with the change the event records.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        prev_hash = row[0] if row else GENESIS_HASH
        instant = at or clock.now()
        actor_id = getattr(actor, "pk", None)
        actor_role = str(getattr(actor, "role", "") or "") if actor is not None else "system"
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
        digest = event_hash(prev_hash, canonical_content(**fields))  # type: ignore[arg-type]
        return AuditEvent.objects.create(prev_hash=prev_hash, hash=digest, **fields)


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
