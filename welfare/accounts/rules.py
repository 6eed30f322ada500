"""Log-in lock-out, token lifetime and one-time codes, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
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


# --- Separation of duties: who may give clinical access, and who may recover it -----------

OH, OH_LEAD, ADMIN = "oh", "oh_lead", "admin"  # Role.OH, GrantKind.OH_LEAD, Role.ADMIN

ONLY_ADMIN_PROPOSES_OH = "Only an administrator proposes a clinician's account."
ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD = "Only an administrator or an OH lead proposes a lead."
NOT_ABOUT_YOURSELF = "Nobody proposes or decides their own access: ask someone else."
ALREADY_A_CLINICIAN = "This person is an active clinician already."
ALREADY_A_LEAD = "This clinician is an OH lead already."
LEAD_MUST_BE_ACTIVE_CLINICIAN = "Only an active occupational health clinician can be a lead."
SOLE_LEAD_CANNOT_PROPOSE = (
    "You are the only OH lead, so nobody could approve your proposal: ask an administrator "
    "to propose it, and approve it yourself."
)
SUPERUSER_NOT_CLINICIAN = "A superuser is always an administrator, never a clinician."
ONLY_A_LEAD_DECIDES = "Only an occupational health lead approves or declines access."
NOT_YOUR_OWN_PROPOSAL = "You proposed this: another OH lead must decide it."
ONLY_A_LEAD_RECOVERS = "Only an occupational health lead recovers a clinician's account."
RECOVER_ONLY_CLINICIANS = "Only an active clinician's account is recovered here."
NOT_YOUR_OWN_RECOVERY = "Another OH lead must recover your account."
CLINICIAN_CREDENTIALS_BY_LEAD = (
    "A clinician's password and two-factor devices are reset only by an OH lead "
    "(recovery), never by an administrator."
)


def gives_clinical_access(
    *, role_before: str, active_before: bool, role_after: str, active_after: bool
) -> bool:
    """Whether a change to an account makes it an active clinician that was not one."""
    return role_after == OH and active_after and not (role_before == OH and active_before)


def proposal_refusal(
    *,
    kind: str,
    proposer_role: str,
    proposer_is_lead: bool,
    proposer_id: int,
    subject_id: int,
    subject_role: str,
    subject_active: bool,
    subject_is_lead: bool,
    subject_is_superuser: bool,
    other_leads: int,
) -> str | None:
    """Why this person may not propose this grant, or None. `oh`: an administrator proposes
    giving someone clinical access; `oh_lead`: an administrator or a lead proposes making an
    active clinician a lead (a lead only when another lead, `other_leads`, could approve)."""
    if kind == OH:
        if proposer_role != ADMIN:
            return ONLY_ADMIN_PROPOSES_OH
        if proposer_id == subject_id:
            return NOT_ABOUT_YOURSELF
        if subject_is_superuser:
            return SUPERUSER_NOT_CLINICIAN
        if subject_role == OH and subject_active:
            return ALREADY_A_CLINICIAN
        return None
    if not (proposer_role == ADMIN or (proposer_role == OH and proposer_is_lead)):
        return ONLY_ADMIN_OR_LEAD_PROPOSES_LEAD
    if proposer_id == subject_id:
        return NOT_ABOUT_YOURSELF
    if proposer_role == OH and other_leads == 0:
        return SOLE_LEAD_CANNOT_PROPOSE
    if subject_role != OH or not subject_active:
        return LEAD_MUST_BE_ACTIVE_CLINICIAN
    if subject_is_lead:
        return ALREADY_A_LEAD
    return None


def decision_refusal(
    *,
    approver_role: str,
    approver_is_lead: bool,
    approver_id: int,
    proposer_id: int,
    subject_id: int,
) -> str | None:
    """Why this person may not approve or decline a proposal, or None: an OH lead who is
    neither its proposer nor its subject decides (the two-person rule)."""
    if approver_role != OH or not approver_is_lead:
        return ONLY_A_LEAD_DECIDES
    if approver_id == subject_id:
        return NOT_ABOUT_YOURSELF
    if approver_id == proposer_id:
        return NOT_YOUR_OWN_PROPOSAL
    return None


def decision_repeats(*, state: str, wanted: str) -> bool | None:
    """A decision on a proposal in `state`: False to make it (pending), True when it is the
    decision made already (a retry: nothing more to do), None when it contradicts it."""
    if state == "pending":
        return False
    return True if state == wanted else None


def recovery_refusal(
    *,
    actor_role: str,
    actor_is_lead: bool,
    actor_id: int,
    subject_id: int,
    subject_role: str,
    subject_active: bool,
) -> str | None:
    """Why this person may not recover this account, or None: an OH lead recovers another
    active clinician (a lead's own recovery goes through another lead)."""
    if actor_role != OH or not actor_is_lead:
        return ONLY_A_LEAD_RECOVERS
    if actor_id == subject_id:
        return NOT_YOUR_OWN_RECOVERY
    if subject_role != OH or not subject_active:
        return RECOVER_ONLY_CLINICIANS
    return None


def credential_reset_refusal(*, target_role: str) -> str | None:
    """Why a password or device reset through user administration is refused, or None:
    who controls a clinician's credentials can read every case note, so only an OH lead's
    recovery resets them."""
    if target_role == OH:
        return CLINICIAN_CREDENTIALS_BY_LEAD
    return None


# --- Single sign-on: what an id_token's claims decide ------------------------------------------

# Roles a directory group may give or take away: never "oh" (clinical access is granted by an
# OH lead's approval, and only taken away by an administrator or a lead, on this service).
DIRECTORY_ROLES = frozenset({"officer", "supervisor", "hr", "admin"})


def subject_of(claims: Mapping[str, object], claim: str) -> str | None:
    """The person's stable directory id from the claim configured (never the e-mail)."""
    value = claims.get(claim)
    if isinstance(value, str) and value.strip() and len(value) <= 255:
        return value
    return None


def amr_says_mfa(amr: object) -> bool:
    """The id_token's authentication methods include multi-factor (RFC 8176 "mfa")."""
    if isinstance(amr, str):
        amr = [amr]
    return isinstance(amr, list) and "mfa" in amr


def role_from_directory(
    *,
    groups: object,
    mapping: Mapping[str, str],
    current_role: str,
    is_superuser: bool,
) -> str | None:
    """The role the directory's groups give, when it should replace `current_role`; None to
    leave the account as it is: no mapped group, groups that map to different roles (an
    ambiguity is for an administrator to settle), a clinician (never taken away), a
    superuser (always an administrator), or a mapping to "oh" (never given)."""
    if current_role == "oh" or is_superuser:
        return None
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return None
    roles = {mapping[g] for g in groups if isinstance(g, str) and g in mapping}
    if len(roles) != 1:
        return None
    (role,) = roles
    if role not in DIRECTORY_ROLES or role == current_role:
        return None
    return role


def id_token_time_refusal(
    *, exp: object, iat: object, nbf: object, now: float, leeway: float
) -> str | None:
    """ "expired", "not_yet_valid" or None, from the id_token's times (seconds since the
    epoch) and the service's clock, allowing `leeway` seconds of skew."""
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return "expired"
    if now > exp + leeway:
        return "expired"
    for start in (iat, nbf):
        if start is None:
            continue
        if not isinstance(start, int | float) or isinstance(start, bool) or start > now + leeway:
            return "not_yet_valid"
    return None


def authorized_party_refusal(*, aud: object, azp: object, audiences: Container[str]) -> bool:
    """OpenID Connect Core 3.1.3.7: a token for several audiences names the authorised party,
    which must be one of ours; one that names an azp must name one of ours."""
    several = isinstance(aud, list) and len(aud) > 1
    if azp is None:
        return several
    return not (isinstance(azp, str) and azp in audiences)


def password_login_allowed(role: str, roles: Container[str]) -> bool:
    return role in roles


# --- Passkeys --------------------------------------------------------------------------------

TOTP_FACTOR = "totp"
PASSKEY_FACTOR = "passkey"

PASSKEY_REQUIRED_FOR_ROLE = (
    "Your role signs in with a passkey, not a code: leave the code empty, then use your "
    "passkey after the password."
)
PASSKEY_REQUIRED_FOR_API = (
    "Your role signs in with a passkey, which the API does not take: use the web app."
)
PASSKEY_LAST_REQUIRED = (
    "Your role signs in with a passkey and this is your last one: add another before removing it."
)
PASSKEY_LAST_FACTOR = (
    "This is your only second factor and your role needs one: add another passkey or an "
    "authenticator app before removing it."
)


def factor_completes(*, role: str, factor: str | None, required_roles: Container[str]) -> bool:
    """Whether a sign-in verified with `factor` (`totp`, `passkey`, or None for none) has the
    second factor the role needs: for a role that requires passkeys only a passkey does."""
    if factor is None:
        return False
    if role in required_roles:
        return factor == PASSKEY_FACTOR
    return True


def totp_refused(*, role: str, required_roles: Container[str], has_passkey: bool) -> bool:
    """A right TOTP code does not sign this person in: their role requires a passkey and
    they have one. Without one, the code is the bridge to enrolling the first."""
    return role in required_roles and has_passkey


def passkey_removal_refusal(
    *,
    role: str,
    needs_two_factor: bool,
    passkeys_left: int,
    totp_devices: int,
    required_roles: Container[str],
) -> str | None:
    """Why removing a passkey (leaving `passkeys_left`) is refused, or None: never the last
    passkey of a role that requires one, nor the last factor of a role that needs one."""
    if passkeys_left > 0:
        return None
    if role in required_roles:
        return PASSKEY_LAST_REQUIRED
    if needs_two_factor and totp_devices == 0:
        return PASSKEY_LAST_FACTOR
    return None


# --- One-time codes (TOTP, RFC 6238) ------------------------------------------------------------

# A code is accepted in its own time step and one either side (a phone's clock a little off,
# a code typed as the step turns), never further: no drift follows a code a step ahead.
TOTP_STEPS_EITHER_SIDE = 1


def totp_steps_to_try(now_step: int) -> tuple[int, ...]:
    """The steps a code may come from at `now_step`, the current one first."""
    around = range(1, TOTP_STEPS_EITHER_SIDE + 1)
    return (now_step, *(now_step - n for n in around), *(now_step + n for n in around))


def totp_accepted_step(
    token: str, *, now_step: int, code_at: Callable[[int], int], used: Container[int]
) -> int | None:
    """The step whose code `token` is, among those tried at `now_step` and not used before;
    None if it is none of them. Each step's code is accepted once (RFC 6238 5.2), every
    other step in the window stays open: a code from the step ahead never makes the
    current step's code a replay."""
    token = token.strip()
    if not token.isdigit():
        return None
    for step in totp_steps_to_try(now_step):
        if step not in used and code_at(step) == int(token):
            return step
    return None


def totp_reused_step(
    token: str, *, now_step: int, code_at: Callable[[int], int], used: Iterable[int]
) -> int | None:
    """The used step in the window whose code `token` is (the code was accepted already)."""
    token = token.strip()
    if not token.isdigit():
        return None
    window = set(totp_steps_to_try(now_step))
    return next((s for s in used if s in window and code_at(s) == int(token)), None)
