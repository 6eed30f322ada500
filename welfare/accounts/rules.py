"""Log-in lock-out and token lifetime, as pure functions."""

from __future__ import annotations

from collections.abc import Container
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
class SprayPolicy:
    """Failures from one address, whatever the user names, before it is refused."""

    max_failures: int
    window: timedelta
    lockout: timedelta


def after_address_failure(
    state: ThrottleState, last_failure_at: datetime | None, now: datetime, policy: SprayPolicy
) -> tuple[ThrottleState, bool]:
    """Count one more failure from an address; return the new state and whether it has just
    locked the address. The count starts again after a quiet spell of one window or when a
    lock has expired; a success does not reset it (an attacker's own account would)."""
    failures = state.failures
    expired = state.locked_until is not None and now >= state.locked_until
    quiet = last_failure_at is None or now - last_failure_at >= policy.window
    if expired or quiet:
        failures = 0
    failures += 1
    if failures >= policy.max_failures:
        return ThrottleState(failures=0, locked_until=now + policy.lockout), True
    return ThrottleState(failures=failures, locked_until=None), False


def count_in_window(
    count: int, last_at: datetime | None, now: datetime, window: timedelta
) -> tuple[int, bool]:
    """One more event in a window that restarts after a quiet spell: (the new count,
    whether this event starts a new window)."""
    if last_at is None or now - last_at >= window:
        return 1, True
    return count + 1, False


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


def repeats_a_short_unit(password: str, times: int = 3) -> bool:
    """`aaaaaaaaaaaa`, `abababababab`, `Aa1!Aa1!Aa1!`: a few characters repeated at least
    `times` times (a last repeat may be cut short)."""
    length = len(password)
    for size in range(1, length // times + 1):
        if (password[:size] * (length // size + 1))[:length] == password:
            return True
    return False


def common_core(password: str) -> str:
    """The password lower-cased without the digits, symbols and spaces around it:
    `Password123!` -> `password`. Guessing tools try a common word with such ends first."""
    return password.lower().strip("0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t")


def is_predictable(password: str, common: Container[str]) -> bool:
    """A short unit repeated, or a common password with only digits and symbols around it."""
    if repeats_a_short_unit(password.lower()):
        return True
    core = common_core(password)
    return bool(core) and core != password.lower() and core in common
