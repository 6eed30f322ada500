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


# --- Separation of duties: who may grant clinical access, and who may recover it -------------
#
# Clinical access (the `oh` role) and the OH-lead flag take two people: one proposes (an
# administrator or an OH lead), a different, active OH lead approves. Administrators never
# decide, and never set or reset a clinician's password or devices: a clinician who is locked
# out is recovered by an OH lead other than themselves.

GRANT_ROLE_OH = "oh"
GRANT_OH_LEAD = "oh_lead"
_ADMIN, _OH = "admin", "oh"

ONLY_ADMIN_OR_LEAD_PROPOSES = (
    "Only an administrator or an occupational health lead can propose clinical access."
)
CANNOT_PROPOSE_FOR_SELF = "You cannot propose access for yourself."
ALREADY_A_CLINICIAN = "This user is an occupational health clinician already."
LEAD_NEEDS_ACTIVE_CLINICIAN = "Only an active occupational health clinician can be made a lead."
ALREADY_A_LEAD = "This clinician is an OH lead already."
ONLY_A_LEAD_DECIDES = "Only an occupational health lead can approve or decline a grant."
CANNOT_APPROVE_OWN_PROPOSAL = "Another OH lead must approve this: you proposed it."
CANNOT_DECIDE_FOR_SELF = "Another OH lead must decide a grant that is about you."
ONLY_A_LEAD_RECOVERS = "Only an occupational health lead can recover a clinician's account."
CANNOT_RECOVER_SELF = "Another OH lead must recover your account."
ONLY_CLINICIANS_RECOVERED = "Only an active clinician's account is recovered by an OH lead."
CLINICIAN_CREDENTIALS_NOT_FOR_ADMINS = (
    "An administrator cannot set or reset a clinician's password or devices: "
    "an OH lead recovers a clinician's account."
)


@dataclass(frozen=True)
class Person:
    """Who someone is, as far as granting access goes."""

    id: int
    role: str
    is_active: bool = True
    is_oh_lead: bool = False

    @property
    def is_lead(self) -> bool:
        return self.is_active and self.role == _OH and self.is_oh_lead


def proposal_refusal(*, kind: str, proposer: Person, target: Person | None) -> str | None:
    """Why `proposer` may not propose granting `kind` to `target` (None: a new user), or None.

    An administrator or an OH lead proposes; nobody proposes for themself; the role goes to
    someone who is not a clinician yet, the lead flag to an active clinician who is not a lead.
    """
    if not proposer.is_active or not (proposer.role == _ADMIN or proposer.is_lead):
        return ONLY_ADMIN_OR_LEAD_PROPOSES
    if target is not None and target.id == proposer.id:
        return CANNOT_PROPOSE_FOR_SELF
    if kind == GRANT_ROLE_OH:
        if target is not None and target.role == _OH:
            return ALREADY_A_CLINICIAN
        return None
    if target is None or not target.is_active or target.role != _OH:
        return LEAD_NEEDS_ACTIVE_CLINICIAN
    if target.is_oh_lead:
        return ALREADY_A_LEAD
    return None


def decision_refusal(
    *, decider: Person, proposer_id: int | None, target_id: int, approving: bool
) -> str | None:
    """Why `decider` may not approve (or decline) a proposal, or None.

    Only an active OH lead decides, never about themself; a lead never approves what they
    proposed (they may withdraw it by declining). An administrator never decides.
    """
    if not decider.is_lead:
        return ONLY_A_LEAD_DECIDES
    if decider.id == target_id:
        return CANNOT_DECIDE_FOR_SELF
    if approving and decider.id == proposer_id:
        return CANNOT_APPROVE_OWN_PROPOSAL
    return None


def recovery_refusal(*, actor: Person, target: Person) -> str | None:
    """Why `actor` may not reset `target`'s password or devices as a clinician's recovery."""
    if not actor.is_lead:
        return ONLY_A_LEAD_RECOVERS
    if actor.id == target.id:
        return CANNOT_RECOVER_SELF
    if not target.is_active or target.role != _OH:
        return ONLY_CLINICIANS_RECOVERED
    return None


def credential_reset_refusal(*, target: Person) -> str | None:
    """Why user administration may not set `target`'s password or remove their devices: a
    clinician's (a pending one's too) credentials are never an administrator's to set."""
    if target.role == _OH:
        return CLINICIAN_CREDENTIALS_NOT_FOR_ADMINS
    return None
