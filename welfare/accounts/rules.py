"""Log-in lock-out and token lifetime, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    lockout: timedelta


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    locked_until: datetime | None


def is_locked(state: ThrottleState, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def after_failure(
    state: ThrottleState, now: datetime, policy: LockoutPolicy
) -> tuple[ThrottleState, bool]:
    """Count one more failure; return the new state and whether it has just locked the account.

    Failures left from a lock that has expired start again from zero.
    """
    failures = state.failures
    if state.locked_until is not None and now >= state.locked_until:
        failures = 0
    failures += 1
    if failures >= policy.max_failures:
        return ThrottleState(failures=0, locked_until=now + policy.lockout), True
    return ThrottleState(failures=failures, locked_until=None), False


@dataclass(frozen=True)
class TokenPolicy:
    idle: timedelta
    absolute: timedelta


def token_expiry_reason(
    *,
    now: datetime,
    last_used_at: datetime,
    expires_at: datetime,
    revoked: bool,
    policy: TokenPolicy,
) -> str | None:
    """Why a token no longer works, or None while it does."""
    if revoked:
        return "revoked"
    if now >= expires_at:
        return "expired"
    if now - last_used_at >= policy.idle:
        return "idle"
    return None
