"""The hash chain of the audit trail, as pure functions.

Each event's hash is an HMAC-SHA256, keyed with a secret kept outside the database
(`AUDIT_HMAC_KEYS`), over the previous event's hash and a canonical JSON rendering of the
event's own fields: altering, removing or re-ordering any event breaks every hash after
it, and whoever owns the database but not the key cannot compute the hashes again.

Events written before keyed hashing carry plain SHA-256 and an empty key id. They are
accepted only up to the boundary recorded (and itself keyed) when keyed hashing began;
any unkeyed event after it, or with no boundary that verifies, is a break.

Truncating the newest events leaves a chain that verifies; a head kept elsewhere (an
anchor, a backup manifest) shows it: `check_heads` says which kept heads are gone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
# The key id of events hashed before keyed hashing (plain SHA-256).
LEGACY_KEY_ID = ""
_HASH_RE = re.compile(r"[0-9a-f]{64}")


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
    key_id: str = LEGACY_KEY_ID


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


def key_id_of(key: bytes) -> str:
    """A short name for a key, stored with each event; it tells nothing about the key."""
    return hmac.new(key, b"welfare audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The HMAC keys by id; `current` names the one new events are hashed with."""

    keys: Mapping[str, bytes]
    current: str

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]


def keyring(secrets: Sequence[str]) -> Keyring:
    """Keys from their secrets, newest first: the first hashes, every one verifies."""
    if not secrets:
        raise ValueError("at least one audit HMAC key is needed")
    keys = {key_id_of(secret.encode()): secret.encode() for secret in reversed(secrets)}
    return Keyring(keys, key_id_of(secrets[0].encode()))


def event_hash(prev_hash: str, content: str, key: bytes | None) -> str:
    """HMAC-SHA256 of the previous hash and the content; plain SHA-256 without a key (the
    events written before keyed hashing, verified as they were written)."""
    message = f"{prev_hash}\n{content}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyedFrom:
    """Events up to and including `through_id` were hashed without a key; the one at
    `through_id` had `through_hash` (None: not known, a copy from before keyed hashing)."""

    through_id: int
    through_hash: str | None


def keyed_from_mac(key: bytes, through_id: int, through_hash: str) -> str:
    return hmac.new(
        key, f"audit keyed from\n{through_id}\n{through_hash}".encode(), hashlib.sha256
    ).hexdigest()


def keyed_from_verified(
    record: Sequence[Any] | None, keys: Mapping[str, bytes]
) -> KeyedFrom | None:
    """The boundary (through id, through hash, key id, mac) if its MAC verifies with a key
    held here; otherwise None, and then no unkeyed event is accepted."""
    if record is None:
        return None
    through_id, through_hash, key_id, mac = record
    key = keys.get(str(key_id))
    if key is None:
        return None
    expected = keyed_from_mac(key, int(through_id), str(through_hash))
    if not hmac.compare_digest(expected, str(mac)):
        return None
    return KeyedFrom(int(through_id), str(through_hash))


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


UNKEYED_REASON = "hashed without the audit key where the key is required"
UNKNOWN_KEY_REASON = "hashed with a key this server does not hold"
BOUNDARY_REASON = "hash differs from the one recorded when keyed hashing began"


def _content_of(event: ChainedEvent) -> str:
    return canonical_content(
        at=event.at,
        actor_id=event.actor_id,
        actor_role=event.actor_role,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        ip=event.ip,
        detail=event.detail,
    )


def first_break(
    events: Iterable[ChainedEvent],
    *,
    keys: Mapping[str, bytes],
    start_hash: str = GENESIS_HASH,
    keyed_from: KeyedFrom | None = None,
) -> ChainBreak | None:
    """Walk events in id order; return the first whose links or content do not verify, or
    whose hash is unkeyed past the boundary, or keyed with a key not held here."""
    expected_prev = start_hash
    for event in events:
        if event.prev_hash != expected_prev:
            return ChainBreak(event.id, "previous-hash link does not match the event before it")
        if event.key_id == LEGACY_KEY_ID:
            if keyed_from is None or event.id > keyed_from.through_id:
                return ChainBreak(event.id, UNKEYED_REASON)
            if (
                event.id == keyed_from.through_id
                and keyed_from.through_hash is not None
                and event.hash != keyed_from.through_hash
            ):
                return ChainBreak(event.id, BOUNDARY_REASON)
            key: bytes | None = None
        else:
            found = keys.get(event.key_id)
            if found is None:
                return ChainBreak(event.id, f"{UNKNOWN_KEY_REASON} (key id {event.key_id})")
            key = found
        if not hmac.compare_digest(
            event_hash(event.prev_hash, _content_of(event), key), event.hash
        ):
            return ChainBreak(event.id, "content does not match its hash")
        expected_prev = event.hash
    return None


# --- Heads kept outside the database --------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The newest event at some moment, as kept elsewhere: its id (when known) and hash."""

    id: int | None
    hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.hash}" if self.id is not None else self.hash


def parse_head(text: str) -> Head:
    """`ID:HASH` or `HASH` (64 lower-case hex digits)."""
    raw = text.strip().lower()
    ident, _, digest = raw.rpartition(":")
    if not _HASH_RE.fullmatch(digest) or (ident and not ident.isdigit()):
        raise ValueError(f"not an audit head (ID:HASH or HASH): {text!r}")
    return Head(int(ident) if ident else None, digest)


def _head_of(record: Mapping[str, Any]) -> Head | None:
    audit = record.get("audit")
    source = audit if isinstance(audit, Mapping) else record
    digest, ident = source.get("last_hash"), source.get("last_id")
    if digest is None:
        return None  # anchored while the chain was empty
    return parse_head(f"{ident}:{digest}" if ident is not None else str(digest))


def parse_anchors(text: str) -> list[Head]:
    """Heads from an anchor file (one JSON object a line, `last_id` and `last_hash`) or
    from a backup manifest (one JSON object whose `audit` holds them)."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    records: list[Any] = (
        [whole]
        if isinstance(whole, Mapping)
        else [json.loads(line) for line in text.splitlines() if line.strip()]
    )
    heads: list[Head] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise ValueError("an anchor must be a JSON object with last_id and last_hash")
        head = _head_of(record)
        if head is not None:
            heads.append(head)
    return heads


PRESENT = "present"
BEFORE_START = "before_start"  # cut from the chain's start by the retention job
TRUNCATED = "truncated"  # newer than the chain's newest event: the tail was cut
MISSING = "missing"  # inside the chain's range but not in it
DIFFERS = "differs"  # the event is there with another hash: rewritten
HEAD_OK = frozenset({PRESENT, BEFORE_START})


@dataclass(frozen=True)
class HeadFinding:
    head: Head
    status: str

    @property
    def ok(self) -> bool:
        return self.status in HEAD_OK


def check_heads(
    heads: Sequence[Head],
    *,
    seen_ids: Mapping[int, str],
    seen_hashes: frozenset[str] | set[str],
    last_id: int | None,
    start_id: int | None,
    start_hash: str,
) -> list[HeadFinding]:
    """Where each kept head stands against the chain as walked: `seen_ids` holds the hash of
    every wanted id found, `seen_hashes` the wanted bare hashes found."""
    findings: list[HeadFinding] = []
    for head in heads:
        if head.id is None:
            if head.hash in seen_hashes:
                status = PRESENT
            elif head.hash == start_hash and start_id is not None:
                status = BEFORE_START
            else:
                status = TRUNCATED
        elif head.id in seen_ids:
            status = PRESENT if seen_ids[head.id] == head.hash else DIFFERS
        elif start_id is not None and head.id <= start_id:
            rewritten = head.id == start_id and head.hash != start_hash
            status = DIFFERS if rewritten else BEFORE_START
        elif last_id is None or head.id > last_id:
            status = TRUNCATED
        else:
            status = MISSING
        findings.append(HeadFinding(head, status))
    return findings


@dataclass(frozen=True)
class ChainReport:
    counted: int
    broken: ChainBreak | None
    last_hash: str | None
    last_id: int | None = None
    heads: tuple[HeadFinding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.broken is None and all(finding.ok for finding in self.heads)


def verify_chain(
    rows: Iterable[Sequence[Any]],
    *,
    keys: Mapping[str, bytes],
    start_hash: str = GENESIS_HASH,
    start_id: int | None = None,
    keyed_from: KeyedFrom | None = None,
    heads: Sequence[Head] = (),
) -> ChainReport:
    """Verify rows in ChainedEvent's field order; count them, keep the newest id and hash,
    and say where each kept head stands."""
    counted = 0
    last_hash: str | None = None
    last_id: int | None = None
    wanted_ids = {head.id for head in heads if head.id is not None}
    wanted_hashes = {head.hash for head in heads if head.id is None}
    seen_ids: dict[int, str] = {}
    seen_hashes: set[str] = set()

    def events() -> Iterator[ChainedEvent]:
        nonlocal counted, last_hash, last_id
        for values in rows:
            event = ChainedEvent(*values)
            if isinstance(event.detail, str | bytes):  # jsonb read as text (Django's cursor)
                event = replace(event, detail=json.loads(event.detail))
            counted += 1
            last_hash, last_id = event.hash, event.id
            if event.id in wanted_ids:
                seen_ids[event.id] = event.hash
            if event.hash in wanted_hashes:
                seen_hashes.add(event.hash)
            yield event

    walk = events()
    broken = first_break(walk, keys=keys, start_hash=start_hash, keyed_from=keyed_from)
    for _ in walk:  # a break stops the check early: read the rest, for the heads and the newest
        pass
    findings = check_heads(
        heads,
        seen_ids=seen_ids,
        seen_hashes=seen_hashes,
        last_id=last_id,
        start_id=start_id,
        start_hash=start_hash,
    )
    return ChainReport(counted, broken, last_hash, last_id, tuple(findings))


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
# Who was given, or lost, access to clinical records, and whose account an OH lead recovered:
# shown to the OH leads as well as to administrators (they are not clinical events).
ACCESS_GRANT_PREFIXES = ("role.", "account.recovered", "user.oh_lead.")
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
