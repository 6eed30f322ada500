"""Part 11 item 6: an audit chain its database's owner cannot rewrite unnoticed.

The owner may disable the triggers and rewrite rows; without AUDIT_HMAC_KEYS they cannot
compute keyed hashes again, and a head anchored outside the database shows a cut tail.
"""

from __future__ import annotations

import importlib
import json
import stat
from datetime import timedelta
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from tests.audit.test_chain import settle_deferred_checks
from tests.audit.test_rules import KEYS, build_chain
from tests.conftest import Cast, Clock, owner_session
from tests.core.test_settings_and_clock import _check_with
from welfare.audit.models import AuditEvent, AuditKeying
from welfare.audit.rules import (
    BEFORE_START,
    DIFFERS,
    GENESIS_HASH,
    MISSING,
    PRESENT,
    TRUNCATED,
    Head,
    canonical_content,
    check_heads,
    event_hash,
    key_id_of,
    keyed_from_mac,
    keyring,
    parse_anchors,
    parse_head,
    verify_chain,
)
from welfare.audit.selectors import chain_setting, chain_verify_rows
from welfare.audit.services import audit_anchor_write, audit_record

# What an owner without the service's key might use instead: their own key, or none.
OWNERS_KEY = b"the database owner's own key, not the service's one"


def _content(event: AuditEvent) -> str:
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


def _as_owner(*statements: tuple[str, list[object]]) -> None:
    """Run statements as the database's owner with the trail's triggers off: the attack."""
    settle_deferred_checks()
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_update_delete")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_no_update_delete")


def _rewrite_from(first_id: int, *, key: bytes | None, key_id: str, action: str) -> None:
    """Change one event's action, then recompute its hash and every later one's, linked as
    the chain links them, with `key` (None: plain SHA-256, the unkeyed scheme)."""
    events = list(AuditEvent.objects.filter(id__gte=first_id).order_by("id"))
    before = AuditEvent.objects.filter(id__lt=first_id).order_by("-id").first()
    prev = before.hash if before else GENESIS_HASH
    statements: list[tuple[str, list[object]]] = []
    for event in events:
        if event.id == first_id:
            event.action = action
        digest = event_hash(prev, _content(event), key)
        statements.append(
            (
                "UPDATE audit_auditevent SET action = %s, prev_hash = %s, hash = %s, "
                "key_id = %s WHERE id = %s",
                [event.action, prev, digest, key_id, event.id],
            )
        )
        prev = digest
    _as_owner(*statements)


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


# --- Rewriting the chain without the key ---------------------------------------------------


def test_an_edit_rehashed_with_unkeyed_sha256_is_detected(cast: Cast) -> None:
    victim = AuditEvent.objects.order_by("id")[2]
    _rewrite_from(victim.pk, key=None, key_id="", action="user.forged")
    assert AuditEvent.objects.get(pk=victim.pk).action == "user.forged"
    with pytest.raises(CommandError, match=rf"broken at event {victim.pk}: hashed without"):
        _verify()


def test_an_edit_rehashed_unkeyed_under_the_keys_id_is_detected(cast: Cast) -> None:
    victim = AuditEvent.objects.order_by("id")[2]
    _rewrite_from(victim.pk, key=None, key_id=victim.key_id, action="user.forged")
    with pytest.raises(CommandError, match=rf"broken at event {victim.pk}: content does not"):
        _verify()


def test_an_edit_rehashed_with_another_key_is_detected(cast: Cast) -> None:
    victim = AuditEvent.objects.order_by("id")[2]
    _rewrite_from(victim.pk, key=OWNERS_KEY, key_id=victim.key_id, action="user.forged")
    with pytest.raises(CommandError, match=rf"broken at event {victim.pk}: content does not"):
        _verify()
    _rewrite_from(victim.pk, key=OWNERS_KEY, key_id=key_id_of(OWNERS_KEY), action="user.forged")
    with pytest.raises(CommandError, match=rf"broken at event {victim.pk}: hashed with a key"):
        _verify()


def test_only_the_key_makes_a_rewrite_verify(cast: Cast, settings) -> None:
    """The same rewrite with the service's key verifies: the key, nothing else, is what
    stands between the owner and the chain; it must stay out of their reach."""
    victim = AuditEvent.objects.order_by("id")[2]
    keys = keyring(settings.AUDIT_HMAC_KEYS)
    _rewrite_from(victim.pk, key=keys.current_key, key_id=keys.current, action="user.forged")
    assert "intact" in _verify()


def test_a_server_with_another_key_does_not_accept_the_chain(cast: Cast) -> None:
    with (
        override_settings(AUDIT_HMAC_KEYS=["a different synthetic key of enough length 0123"]),
        pytest.raises(CommandError, match="hashed with a key this server does not hold"),
    ):
        _verify()


def test_an_old_key_kept_after_rotation_still_verifies(cast: Cast, settings) -> None:
    old = list(settings.AUDIT_HMAC_KEYS)
    new_key = "a new synthetic audit key after rotation, 0123456789"
    with override_settings(AUDIT_HMAC_KEYS=[new_key, *old]):
        event = audit_record(actor=None, action="job.ran")
        assert event.key_id == key_id_of(new_key.encode())
        assert "intact" in _verify()
    with (
        override_settings(AUDIT_HMAC_KEYS=old),
        pytest.raises(CommandError, match=rf"broken at event {event.pk}: hashed with a key"),
    ):
        _verify()


# --- Cutting the tail ---------------------------------------------------------------------


def test_deleting_the_newest_events_is_truncation_against_an_anchor(
    cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    anchor = audit_anchor_write(file=anchors)
    clock.advance(hours=1)
    audit_record(actor=cast.admin, action="user.updated", target_type="user", target_id=1)
    later = audit_anchor_write(file=anchors)
    assert later.last_id is not None
    assert anchor.last_id is not None
    assert later.last_id > anchor.last_id
    head = f"{anchor.last_id}:{anchor.last_hash}"
    assert "2 kept heads present" in _verify("--anchor-file", str(anchors))
    assert "1 kept heads present" in _verify("--expect-head", head)

    # The owner deletes the newest events, the anchored head among them.
    _as_owner(("DELETE FROM audit_auditevent WHERE id >= %s", [anchor.last_id]))

    assert "intact" in _verify()  # no head kept elsewhere: nothing to tell a cut tail by
    with pytest.raises(CommandError, match=rf"TRUNCATED.*{head}"):
        _verify("--expect-head", head)
    with pytest.raises(CommandError, match=r"TRUNCATED or rewritten: 2 of 2 kept heads"):
        _verify("--anchor-file", str(anchors))
    with pytest.raises(CommandError, match="TRUNCATED"):
        _verify("--expect-head", str(anchor.last_hash))  # the bare hash form


def test_a_rewrite_with_a_held_key_still_changes_an_anchored_head(
    cast: Cast, tmp_path: Path, settings
) -> None:
    """An old key kept for verifying after rotation, if it leaked, lets its holder rehash the
    chain so that it verifies; the anchors kept outside still show the rewrite."""
    anchor = audit_anchor_write(file=tmp_path / "anchors.jsonl")
    leaked = "an old synthetic key kept after rotation that leaked 0123"
    settings.AUDIT_HMAC_KEYS = [*settings.AUDIT_HMAC_KEYS, leaked]
    keys = keyring([leaked])
    victim = AuditEvent.objects.order_by("id")[1]
    _rewrite_from(victim.pk, key=keys.current_key, key_id=keys.current, action="user.forged")
    assert "intact" in _verify()
    with pytest.raises(CommandError, match=rf"{anchor.last_id}:{anchor.last_hash} REWRITTEN"):
        _verify("--expect-head", f"{anchor.last_id}:{anchor.last_hash}")


def test_anchor_file_is_private_and_appended(cast: Cast, clock: Clock, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    first = audit_anchor_write(file=anchors)
    audit_anchor_write(at=clock.now() + timedelta(hours=1), file=anchors)
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0] == {
        "at": clock.now().isoformat(),
        "last_id": first.last_id,
        "last_hash": first.last_hash,
        "count": AuditEvent.objects.count(),
    }
    assert lines[1]["at"] == (clock.now() + timedelta(hours=1)).isoformat()
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None
    assert (first.last_id, first.last_hash) == (newest.pk, newest.hash)


def test_anchoring_is_not_itself_an_event(cast: Cast, tmp_path: Path) -> None:
    before = AuditEvent.objects.count()
    anchor = audit_anchor_write(file=tmp_path / "a.jsonl")
    assert AuditEvent.objects.count() == before
    assert anchor.count == before


# --- Events written before keyed hashing --------------------------------------------------

_MIGRATION = importlib.import_module("welfare.audit.migrations.0004_keyed_hashes")


def _legacy_events(count: int, clock: Clock) -> list[AuditEvent]:
    """Events as the service wrote them before keyed hashing: plain SHA-256, no key id."""
    prev = GENESIS_HASH
    written: list[AuditEvent] = []
    for n in range(count):
        event = AuditEvent(
            at=clock.now() + timedelta(minutes=n),
            actor_role="system",
            action="legacy.ran",
            target_type="job",
            target_id=str(n),
            detail={"n": n},
        )
        event.prev_hash = prev
        event.hash = event_hash(prev, _content(event), None)
        event.save()
        written.append(event)
        prev = event.hash
    return written


def _record_boundary() -> None:
    _MIGRATION.record_boundary(apps, SimpleNamespace(connection=connection))


def test_unkeyed_events_before_the_boundary_still_verify(db: None, clock: Clock, settings) -> None:
    legacy = _legacy_events(4, clock)
    _record_boundary()
    marker = AuditKeying.objects.get()
    assert (marker.legacy_through_id, marker.legacy_through_hash) == (
        legacy[-1].pk,
        legacy[-1].hash,
    )
    keyed = audit_record(actor=None, action="job.ran")
    assert keyed.prev_hash == legacy[-1].hash
    assert keyed.key_id == keyring(settings.AUDIT_HMAC_KEYS).current
    assert "intact: 5 events" in _verify()


def test_unkeyed_events_without_a_boundary_are_refused(db: None, clock: Clock) -> None:
    """An owner who rehashes the whole chain unkeyed (and drops the boundary) is caught."""
    legacy = _legacy_events(3, clock)
    with pytest.raises(CommandError, match=rf"broken at event {legacy[0].pk}: hashed without"):
        _verify()


def test_a_legacy_event_rewritten_with_its_chain_is_detected(db: None, clock: Clock) -> None:
    legacy = _legacy_events(4, clock)
    _record_boundary()
    audit_record(actor=None, action="job.ran")
    _rewrite_from(legacy[1].pk, key=None, key_id="", action="legacy.forged")
    with pytest.raises(CommandError, match=rf"broken at event {legacy[-1].pk}: hash differs"):
        _verify()


def test_a_boundary_forged_without_the_key_is_ignored(db: None, clock: Clock, settings) -> None:
    legacy = _legacy_events(2, clock)
    _record_boundary()
    keyed = audit_record(actor=None, action="job.ran")
    # The owner rehashes the keyed event unkeyed and adds a boundary past it, MACed with
    # their own key under the service's key id.
    _rewrite_from(keyed.pk, key=None, key_id="", action="job.ran")
    rewritten = AuditEvent.objects.get(pk=keyed.pk)
    AuditKeying.objects.create(
        at=clock.now(),
        legacy_through_id=keyed.pk,
        legacy_through_hash=rewritten.hash,
        key_id=keyring(settings.AUDIT_HMAC_KEYS).current,
        mac=keyed_from_mac(OWNERS_KEY, keyed.pk, rewritten.hash),
    )
    with pytest.raises(CommandError, match=rf"broken at event {keyed.pk}: hashed without"):
        _verify()
    assert legacy  # the genuine boundary (the first record) still covers the legacy events


def test_a_copy_from_before_keyed_hashing_verifies_unkeyed_but_not_the_live_chain(
    db: None, clock: Clock
) -> None:
    """A backup restored from before this change has no key id column: restore_verify reads
    it as all unkeyed. The live chain never is: dropping the column fails verification
    rather than letting an owner rehash everything unkeyed."""
    legacy = _legacy_events(3, clock)
    settle_deferred_checks()
    with owner_session(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DROP COLUMN key_id")
        setting = chain_setting(cursor, unkeyed_copy_allowed=True)
        cursor.execute(setting.sql)
        report = chain_verify_rows(setting, cursor.fetchall())
        assert report.ok
        assert (report.counted, report.last_hash) == (3, legacy[-1].hash)
        with pytest.raises(DatabaseError, match="key_id"), transaction.atomic():
            cursor.execute(chain_setting(cursor).sql)


@pytest.mark.parametrize("keys", [None, "too-short-a-key", "a" * 40 + ",short"])
def test_production_refuses_to_start_without_proper_audit_keys(keys: str | None) -> None:
    env = {"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "w.example"}
    result = _check_with(env if keys is None else {**env, "AUDIT_HMAC_KEYS": keys})
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEYS must be set" in result.stderr


# --- The pure rules ------------------------------------------------------------------------


def test_parse_head_takes_id_and_hash_or_a_bare_hash() -> None:
    digest = "ab" * 32
    assert parse_head(f"12:{digest}") == Head(12, digest)
    assert parse_head(digest.upper()) == Head(None, digest)
    for bad in ("12:abc", "x:" + digest, "", digest + "0"):
        with pytest.raises(ValueError, match="not an audit head"):
            parse_head(bad)


def test_parse_anchors_reads_anchor_lines_and_manifests() -> None:
    digest = "cd" * 32
    lines = (
        f'{{"at": "2027-03-10T09:00:00+00:00", "last_id": 7, "last_hash": "{digest}", "count": 7}}'
        '\n\n{"at": "2027-03-10T10:00:00+00:00", "last_id": null, "last_hash": null, "count": 0}\n'
    )
    assert parse_anchors(lines) == [Head(7, digest)]
    manifest = json.dumps({"format": 1, "audit": {"last_id": 9, "last_hash": digest}}, indent=2)
    assert parse_anchors(manifest) == [Head(9, digest)]
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_anchors("[1, 2]\n")


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (Head(20, "a" * 64), PRESENT),
        (Head(20, "b" * 64), DIFFERS),
        (Head(31, "c" * 64), TRUNCATED),
        (Head(25, "d" * 64), MISSING),
        (Head(5, "e" * 64), BEFORE_START),  # cut by retention
        (Head(10, "f" * 64), BEFORE_START),  # the retention checkpoint itself
        (Head(10, "0" * 64), DIFFERS),
        (Head(None, "a" * 64), PRESENT),
        (Head(None, "9" * 64), TRUNCATED),
    ],
)
def test_check_heads(head: Head, status: str) -> None:
    [finding] = check_heads(
        [head],
        seen_ids={20: "a" * 64},
        seen_hashes={"a" * 64} if head.id is None and head.hash == "a" * 64 else set(),
        last_id=30,
        start_id=10,
        start_hash="f" * 64,
    )
    assert finding.status == status


def _rows(events: list) -> list[tuple[object, ...]]:
    return [
        (e.id, e.at, e.actor_id, e.actor_role, e.action, e.target_type, e.target_id, e.ip,
         e.detail, e.prev_hash, e.hash, e.key_id)
        for e in events
    ]  # fmt: skip


@given(st.integers(min_value=2, max_value=15), st.data())
def test_a_cut_tail_verifies_alone_but_not_against_an_anchored_head(
    count: int, data: st.DataObject
) -> None:
    events = build_chain(count)
    anchored = data.draw(st.integers(min_value=0, max_value=count - 1))
    kept = data.draw(st.integers(min_value=0, max_value=count - 1))
    head = Head(events[anchored].id, events[anchored].hash)
    report = verify_chain(_rows(events[:kept]), keys=KEYS.keys, heads=[head])
    assert report.broken is None  # what is left is a valid chain
    assert report.heads[0].status == (PRESENT if anchored < kept else TRUNCATED)
    assert report.ok == (anchored < kept)
