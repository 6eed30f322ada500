from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from welfare.accounts.rules import (
    LockoutPolicy,
    ThrottleState,
    TokenPolicy,
    after_failure,
    is_locked,
    token_expiry_reason,
)

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=5, lockout=timedelta(minutes=15))


def test_locks_on_the_fifth_failure_exactly() -> None:
    state = ThrottleState(0, None)
    for n in range(1, 5):
        state, locked = after_failure(state, NOW, POLICY)
        assert not locked
        assert state.failures == n
        assert not is_locked(state, NOW)
    state, locked = after_failure(state, NOW, POLICY)
    assert locked
    assert is_locked(state, NOW)
    assert is_locked(state, NOW + timedelta(minutes=15) - timedelta(microseconds=1))
    assert not is_locked(state, NOW + timedelta(minutes=15))


def test_failures_after_an_expired_lock_start_again() -> None:
    locked = ThrottleState(0, NOW)
    state, newly = after_failure(locked, NOW + timedelta(seconds=1), POLICY)
    assert state == ThrottleState(1, None)
    assert not newly


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_never_locked_before_max_failures(max_failures: int, attempts: int) -> None:
    policy = LockoutPolicy(max_failures=max_failures, lockout=timedelta(minutes=1))
    state = ThrottleState(0, None)
    locks = 0
    for _ in range(attempts):
        state, locked = after_failure(state, NOW, policy)
        locks += locked
        if locked:
            break
    assert locks == (1 if attempts >= max_failures else 0)


def test_token_expiry_reasons() -> None:
    policy = TokenPolicy(idle=timedelta(minutes=15), absolute=timedelta(hours=12))
    live = dict(
        last_used_at=NOW, expires_at=NOW + timedelta(hours=12), revoked=False, policy=policy
    )
    assert token_expiry_reason(now=NOW + timedelta(minutes=14, seconds=59), **live) is None
    assert token_expiry_reason(now=NOW + timedelta(minutes=15), **live) == "idle"
    assert (
        token_expiry_reason(
            now=NOW + timedelta(hours=12),
            **{**live, "last_used_at": NOW + timedelta(hours=11, minutes=59)},
        )
        == "expired"
    )
    assert token_expiry_reason(now=NOW, **{**live, "revoked": True}) == "revoked"
