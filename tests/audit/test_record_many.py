"""Many audit events appended at once chain exactly as one by one would."""

from __future__ import annotations

import itertools

from tests.conftest import Cast
from welfare.audit.models import AuditEvent
from welfare.audit.selectors import audit_chain_verify
from welfare.audit.services import AuditEntry, audit_record, audit_record_many


def test_many_events_keep_their_order_and_the_chain(cast: Cast, clock) -> None:
    before = AuditEvent.objects.count()
    audit_record(actor=cast.admin, action="first.event")
    events = audit_record_many(
        actor=None,
        entries=[AuditEntry("alert.resolved", "alert", pk, {"n": pk}) for pk in (3, 1, 2)],
        at=clock.now(),
    )
    audit_record(actor=cast.admin, action="last.event")
    assert [e.target_id for e in events] == ["3", "1", "2"]
    assert [e.pk for e in events] == sorted(e.pk for e in events)
    assert audit_record_many(actor=None, entries=[]) == []
    newest = list(AuditEvent.objects.order_by("id")[before:].values_list("action", "target_id"))
    assert newest == [
        ("first.event", ""),
        ("alert.resolved", "3"),
        ("alert.resolved", "1"),
        ("alert.resolved", "2"),
        ("last.event", ""),
    ]
    stored = list(AuditEvent.objects.order_by("id")[before:])
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    assert audit_chain_verify().ok
