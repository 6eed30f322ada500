"""The hash chain of the audit trail, as pure functions.

Each event's hash is SHA-256 over the previous event's hash and a canonical
JSON rendering of the event's own fields, so altering, removing or
re-ordering any event breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainedEvent:
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    action: str
    target_type: str
    target_id: str
    ip: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def canonical_ip(ip: str | None) -> str | None:
    return str(ipaddress.ip_address(ip)) if ip else None


def canonical_content(
    *,
    at: datetime,
    actor_id: int | None,
    actor_role: str,
    action: str,
    target_type: str,
    target_id: str,
    ip: str | None,
    detail: Mapping[str, Any],
) -> str:
    body = {
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "ip": canonical_ip(ip),
        "detail": detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def event_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def first_break(
    events: Iterable[ChainedEvent], *, start_hash: str = GENESIS_HASH
) -> ChainBreak | None:
    """Walk events in id order; return the first whose links or content do not verify."""
    expected_prev = start_hash
    for event in events:
        if event.prev_hash != expected_prev:
            return ChainBreak(event.id, "previous-hash link does not match the event before it")
        content = canonical_content(
            at=event.at,
            actor_id=event.actor_id,
            actor_role=event.actor_role,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            ip=event.ip,
            detail=event.detail,
        )
        if event_hash(event.prev_hash, content) != event.hash:
            return ChainBreak(event.id, "content does not match its hash")
        expected_prev = event.hash
    return None


@dataclass(frozen=True)
class ChainReport:
    counted: int
    broken: ChainBreak | None
    last_hash: str | None


def verify_chain(rows: Iterable[Sequence[Any]], *, start_hash: str = GENESIS_HASH) -> ChainReport:
    """Verify rows in ChainedEvent's field order; count them and keep the newest hash."""
    counted = 0
    last_hash: str | None = None

    def events() -> Iterator[ChainedEvent]:
        nonlocal counted, last_hash
        for values in rows:
            event = ChainedEvent(*values)
            if isinstance(event.detail, str | bytes):  # jsonb read as text (Django's cursor)
                event = replace(event, detail=json.loads(event.detail))
            counted += 1
            last_hash = event.hash
            yield event

    broken = first_break(events(), start_hash=start_hash)
    return ChainReport(counted, broken, last_hash)


# --- What an admin may see of an event ------------------------------------------------------

# Events about clinical records: a self-referral, a screening, a case note, a report, a
# restriction, an incident, an alert (screenings raise them), any check-in. Their kind, officer,
# target and detail are occupational health's; an admin learns only that one happened.
CLINICAL_PREFIXES = (
    "alert.",
    "case.",
    "checkin.",
    "incident.",
    "queue.",
    "report.",
    "restriction.",
    "screening.",
)
CLINICAL = "clinical"
# The fields an admin sees of a clinical event; everything else is withheld (None).
ADMIN_CLINICAL_FIELDS = frozenset({"id", "at", "actor_role"})


def is_clinical(action: str) -> bool:
    return action.startswith(CLINICAL_PREFIXES)


def event_class(action: str) -> str:
    """`clinical`, or the action's first word (`auth`, `user`, `exposure`, ...)."""
    return CLINICAL if is_clinical(action) else action.split(".", 1)[0]


def admin_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as an admin may see it: in full unless clinical; a clinical one keeps its time
    and the actor's role, never its actor, kind, target, address, detail or hashes (an
    unkeyed hash over so few possible values could be reversed by trying them all). No
    event shows an admin its `prev_hash`: that is the hash of the event before it."""
    shown = dict(event)
    shown["class"] = event_class(str(event.get("action", "")))
    if "prev_hash" in shown:
        shown["prev_hash"] = None  # the previous event's hash, which may be a clinical one's
    if shown["class"] != CLINICAL:
        return shown
    return {
        key: (value if key in ADMIN_CLINICAL_FIELDS or key == "class" else None)
        for key, value in shown.items()
    }
