from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from welfare.audit.rules import (
    GENESIS_HASH,
    ChainedEvent,
    canonical_content,
    event_hash,
    first_break,
    keyring,
)

KEYS = keyring(["a synthetic audit key for the rule tests only"])


def build_chain(count: int) -> list[ChainedEvent]:
    events: list[ChainedEvent] = []
    prev = GENESIS_HASH
    for n in range(count):
        fields = dict(
            at=datetime(2027, 1, 1, 12, n % 60, tzinfo=UTC),
            actor_id=n % 3 or None,
            actor_role="admin",
            action=f"thing.{n}",
            target_type="unit",
            target_id=str(n),
            ip="127.0.0.1",
            detail={"n": n},
        )
        digest = event_hash(prev, canonical_content(**fields), KEYS.current_key)
        events.append(
            ChainedEvent(id=n + 1, prev_hash=prev, hash=digest, key_id=KEYS.current, **fields)
        )
        prev = digest
    return events


def test_an_intact_chain_verifies() -> None:
    assert first_break(build_chain(20), keys=KEYS.keys) is None
    assert first_break([], keys=KEYS.keys) is None


@given(st.integers(min_value=1, max_value=15), st.data())
def test_any_altered_field_breaks_the_chain_at_that_event(count: int, data: st.DataObject) -> None:
    events = build_chain(count)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    field = data.draw(st.sampled_from(["action", "target_id", "actor_role", "ip", "detail", "at"]))
    changed = {
        "action": "forged",
        "target_id": "999",
        "actor_role": "oh",
        "ip": "10.9.9.9",
        "detail": {"n": -1},
        "at": datetime(2030, 1, 1, tzinfo=UTC),
    }[field]
    events[index] = replace(events[index], **{field: changed})
    broken = first_break(events, keys=KEYS.keys)
    assert broken is not None
    assert broken.event_id == index + 1


@given(st.integers(min_value=2, max_value=15), st.data())
def test_a_removed_event_breaks_the_chain_at_the_next(count: int, data: st.DataObject) -> None:
    events = build_chain(count)
    index = data.draw(st.integers(min_value=0, max_value=count - 2))
    removed_next = events[index + 1].id
    del events[index]
    broken = first_break(events, keys=KEYS.keys)
    assert broken is not None
    assert broken.event_id == removed_next
