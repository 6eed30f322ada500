"""Writes for accounts: log-in, tokens, two-factor devices and user administration."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, models, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers.exceptions import WebAuthnException

from welfare.accounts.models import (
    AuthToken,
    GrantKind,
    GrantState,
    LoginThrottle,
    NotifyBy,
    RoleGrant,
    SealedTOTPDevice,
    UnreadableSeed,
    User,
    reseal_seed,
)
from welfare.accounts.rules import (
    CLINICIAN_CREDENTIALS_BY_LEAD,
    PASSKEY_FACTOR,
    PASSKEY_REQUIRED_FOR_ROLE,
    TOTP_FACTOR,
    LockoutPolicy,
    SprayPolicy,
    ThrottleState,
    TokenPolicy,
    after_address_failure,
    after_failure,
    amr_says_mfa,
    count_in_window,
    credential_reset_refusal,
    decision_refusal,
    decision_repeats,
    factor_completes,
    gives_clinical_access,
    is_locked,
    passkey_removal_refusal,
    password_login_allowed,
    proposal_refusal,
    recovery_refusal,
    role_from_directory,
    subject_of,
    token_expiry_reason,
    totp_refused,
)
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.context import client_ip
from welfare.core.db import next_id, prepared_cursor
from welfare.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)
from welfare.core.roles import DIGEST_ROLES, Role
from welfare.core.sealed import Resealed, Unreadable, reseal_table

INVALID_CREDENTIALS = "Unable to log in with the details provided."
OTP_REUSED = (
    "That code has just been used. Wait for your authenticator app to show the next one "
    "(at most 30 seconds), then sign in with it."
)
ACCOUNT_LOCKED = "Too many failed log-in attempts for this account. Try again later."
PASSWORD_LOGIN_OFF = (
    "Password sign-in is switched off for your role: use single sign-on (the button to sign in "  # noqa: S105
    "with your force directory)."
)
ADDRESS_LOCKED = "Too many failed log-in attempts from this address. Try again later."
PASSWORD_CHANGE_LOCKED = (
    "Too many wrong current passwords. Wait a while before trying to change it again."  # noqa: S105
)
OTP_INVALID = "The code is not valid, or it has been used already."
OTP_THROTTLED = "Too many wrong codes. Wait a little before trying again."
OTP_ALREADY_CONFIRMED = "This device is confirmed already."
OTP_ENROL_NEEDS_VERIFIED = (
    "You have a confirmed device already: log in with a code from it before adding another."
)
USERNAME_TAKEN = "A user with that user name exists already."
DIRECTORY_ID_TAKEN = "An account with that directory id exists already."
CLINICAL_ACCESS_BY_A_PERSON = "Clinical access is proposed by an administrator, not the system."
PASSWORD_WRONG = "The current password is not right."  # noqa: S105 - a message
CANNOT_DEACTIVATE_SELF = "You cannot deactivate your own account."
CANNOT_DEMOTE_SELF = "You cannot change your own role."

# Other apps register checks that may refuse a role change (for example: the user is
# an officer with a posting, or supervises units). Each returns a message or None.
RoleChangeGuard = Callable[[User, str], "str | None"]
role_change_guards: list[RoleChangeGuard] = []


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_policy() -> TokenPolicy:
    return TokenPolicy(
        idle=timedelta(seconds=settings.TOKEN_IDLE_SECONDS),
        absolute=timedelta(seconds=settings.TOKEN_ABSOLUTE_SECONDS),
    )


def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.LOGIN_MAX_FAILURES,
        lockout=timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS),
    )


def spray_policy() -> SprayPolicy:
    return SprayPolicy(
        max_failures=settings.LOGIN_ADDRESS_MAX_FAILURES,
        window=timedelta(seconds=settings.LOGIN_ADDRESS_WINDOW_SECONDS),
        lockout=timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS),
    )


def password_change_policy() -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.PASSWORD_CHANGE_MAX_FAILURES,
        lockout=timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS),
    )


# --- Tokens ---------------------------------------------------------------------------


def token_issue(*, user: User, otp_verified: bool) -> tuple[str, AuthToken]:
    """A new bearer token; the raw value is returned once and stored only hashed."""
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    token = AuthToken.objects.create(
        key_hash=_hash_token(raw),
        user=user,
        created_at=now,
        last_used_at=now,
        expires_at=now + token_policy().absolute,
        otp_verified=otp_verified,
    )
    return raw, token


def _columns(model: type[Any], alias: str) -> tuple[list[str], str]:
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], ", ".join(f"{alias}.{f.column}" for f in fields)


_TOKEN_NAMES, _TOKEN_COLUMNS = _columns(AuthToken, "t")
_USER_NAMES, _USER_COLUMNS = _columns(User, "u")
_OFFICER_RELATION = User.officer.related  # type: ignore[attr-defined]
_OFFICER: Any = _OFFICER_RELATION.related_model  # people.Officer (people sits above accounts)
_OFFICER_NAMES, _OFFICER_COLUMNS = _columns(_OFFICER, "o")
_TOKEN_SQL = f"""
    SELECT {_TOKEN_COLUMNS}, {_USER_COLUMNS}, {_OFFICER_COLUMNS}
    FROM accounts_authtoken t
    JOIN accounts_user u ON u.id = t.user_id
    LEFT JOIN people_officer o ON o.user_id = u.id
    WHERE t.key_hash = %s
"""  # noqa: S608 - column names from the models; the value is a parameter


_TOUCH_SQL = f"UPDATE {AuthToken._meta.db_table} SET last_used_at = %s WHERE id = %s"  # noqa: S608


def _token_with_user(key_hash: str) -> AuthToken | None:
    """The token, its user and the user's officer record (most requests are officers'
    own), as `select_related` would give them, from one prepared statement: it runs on
    every request."""
    with prepared_cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    alias = connection.alias
    split = (len(_TOKEN_NAMES), len(_TOKEN_NAMES) + len(_USER_NAMES))
    token = AuthToken.from_db(alias, _TOKEN_NAMES, row[: split[0]])
    user = User.from_db(alias, _USER_NAMES, row[split[0] : split[1]])
    officer_row = row[split[1] :]
    officer = (
        _OFFICER.from_db(alias, _OFFICER_NAMES, officer_row) if officer_row[0] is not None else None
    )
    AuthToken.user.field.set_cached_value(token, user)  # type: ignore[attr-defined]
    _OFFICER_RELATION.set_cached_value(user, officer)
    if officer is not None:
        _OFFICER_RELATION.field.set_cached_value(officer, user)
    return token


def token_authenticate(raw: str) -> AuthToken | None:
    """The live token for a raw bearer value, refreshing its idle timer; None if it is dead."""
    token = _token_with_user(_hash_token(raw))
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    reason = token_expiry_reason(
        now=now,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        revoked=token.revoked_at is not None,
        policy=token_policy(),
    )
    if reason is not None:
        return None
    if (now - token.last_used_at).total_seconds() >= settings.TOKEN_TOUCH_SECONDS:
        with prepared_cursor() as cursor:  # a busy client's token, every half minute
            cursor.execute(_TOUCH_SQL, [now, token.pk])
        token.last_used_at = now
    return token


def token_revoke(*, token: AuthToken, reason: str) -> None:
    with transaction.atomic():
        updated = AuthToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=clock.now(), revoked_reason=reason
        )
        if updated:
            audit_record(
                actor=token.user,
                action="auth.token.revoked",
                target_type="user",
                target_id=token.user_id,
                detail={"reason": reason, "tokens": 1},
            )


def tokens_revoke_for_user(
    *, user: User, reason: str, actor: User | None, keep: AuthToken | None = None
) -> int:
    with transaction.atomic():
        live = AuthToken.objects.filter(user=user, revoked_at__isnull=True)
        if keep is not None:
            live = live.exclude(pk=keep.pk)
        count = live.update(revoked_at=clock.now(), revoked_reason=reason)
        if count:
            audit_record(
                actor=actor,
                action="auth.token.revoked",
                target_type="user",
                target_id=user.pk,
                detail={"reason": reason, "tokens": count},
            )
        return count


# --- Log-in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    raw_token: str
    token: AuthToken
    user: User


# Throttle keys that are not user names start with "#", which a user name cannot contain.
def _address_key(ip: str | None) -> str:
    return f"#address:{ip or 'none'}"


def _unknown_names_key(ip: str | None) -> str:
    return f"#unknown-names-from:{ip or 'none'}"


def _name_key(username_key: str) -> str:
    """A known user's own counter (whatever the case typed); unknown names share a fixed
    number of counters, so that made-up names add no rows, and such a name still locks
    as a real one would."""
    if User.objects.filter(username__iexact=username_key).exists():
        return username_key
    digest = hashlib.sha256(username_key.encode()).digest()
    return f"#unknown:{int.from_bytes(digest[:8], 'big') % settings.LOGIN_UNKNOWN_NAME_BUCKETS}"


def _unknown_name_failed(now: datetime) -> None:
    """Unknown names from one address are audited once per window (a quiet spell of
    LOGIN_ADDRESS_WINDOW_SECONDS ends one), counted in one row per address; the event
    that opens a window carries the count of the address's previous one."""
    row = _throttle_row(_unknown_names_key(client_ip()))
    window = timedelta(seconds=settings.LOGIN_ADDRESS_WINDOW_SECONDS)
    count, starts = count_in_window(row.failures, row.last_failure_at, now, window)
    if starts:
        audit_record(
            actor=None,
            action="auth.login.failed",
            detail={
                "reason": "unknown_user",
                "aggregated": True,
                "previous_window_failures": row.failures,
            },
        )
    row.failures = count
    row.last_failure_at = now
    row.save(update_fields=["failures", "last_failure_at"])


def _throttle_row(username_key: str) -> LoginThrottle:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_loginthrottle (username, failures) VALUES (%s, 0) "
            "ON CONFLICT (username) DO NOTHING",
            [username_key],
        )
    return LoginThrottle.objects.select_for_update().get(username=username_key)


def _verify_otp_locked(user: User, otp: str) -> SealedTOTPDevice | None:
    """The confirmed device a code belongs to, rows locked so that a code is accepted once."""
    devices = (
        SealedTOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=True)
        .order_by("pk")
    )
    for device in devices:
        if device.verify_token(otp):
            return device
    return None


@dataclass(frozen=True)
class Authenticated:
    user: User
    device: SealedTOTPDevice | None
    # The password was right and the person's passkey is to follow (the web app's second
    # step, `passkey_sign_in`): nobody is signed in yet.
    passkey_pending: bool = False


PASSKEY_REQUIRED_ELSEWHERE = (
    "Your role signs in with a passkey: sign in to the web app (/login) with your password "
    "and passkey (with no passkey yet, your code there leads you to add one)."
)


def passkey_required_roles() -> frozenset[str]:
    return frozenset(settings.PASSKEY_REQUIRED_ROLES)


def has_passkey(user: User) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def has_second_factor(user: User) -> bool:
    """A confirmed TOTP device or a passkey: either must be used to add another."""
    return SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists() or has_passkey(user)


def _check_credentials(
    user: User | None, password: str, otp: str | None, *, passkey_next: bool
) -> tuple[str | None, SealedTOTPDevice | None, bool]:
    """(failure reason or None, matched device, passkey to follow). `passkey_next`: the
    caller (the web app) takes a passkey after the password; the API and the admin site's
    form take none."""
    if user is None:
        User().set_password(password)  # spend the same time as a real check
        return "unknown_user", None, False
    if not user.check_password(password):
        return "password", None, False
    if not user.is_active:
        return "inactive", None, False
    if not password_login_allowed(user.role, settings.PASSWORD_LOGIN_ROLES):
        return "password_login_off", None, False
    has_totp = SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
    passkey = has_passkey(user)
    if otp and has_totp:
        device = _verify_otp_locked(user, otp)
        if device is None:
            return ("otp_reused" if _just_used(user, otp) else "otp"), None, False
        required = passkey_required_roles()
        # The code is right (so saying this tells nobody anything new); for a role that
        # requires a passkey it is only the bridge to the first one, in the web app.
        if totp_refused(role=user.role, required_roles=required, has_passkey=passkey) or (
            user.role in required and not passkey_next
        ):
            return "passkey_required", None, False
        return None, device, False
    if passkey:
        return (None, None, True) if passkey_next else ("otp", None, False)
    if has_totp:
        return "otp", None, False
    return None, None, False


def _just_used(user: User, otp: str) -> bool:
    """The code is one this user signed in with moments ago (signing in twice within the
    window): said as such, since the password was right and the person holds the device."""
    return any(
        device.was_used(otp)
        for device in SealedTOTPDevice.objects.filter(user=user, confirmed=True)
    )


def _count_failure(
    *,
    user: User | None,
    throttle: LoginThrottle,
    address: LoginThrottle,
    now: datetime,
    action: str,
    reason: str,
) -> None:
    """One more failed log-in for the account (or an unknown name's shared counter) and the
    client address, both rows locked by the caller; audited, and the lock-outs they reach."""
    state = ThrottleState(failures=throttle.failures, locked_until=throttle.locked_until)
    address_state = ThrottleState(failures=address.failures, locked_until=address.locked_until)
    target: dict[str, Any] = {"target_type": "user", "target_id": user.pk} if user else {}
    new_state, locked_now = after_failure(state, now, lockout_policy())
    throttle.failures = new_state.failures
    throttle.locked_until = new_state.locked_until
    throttle.last_failure_at = now
    throttle.save(update_fields=["failures", "locked_until", "last_failure_at"])
    policy = spray_policy()
    new_address, address_locked = after_address_failure(
        address_state, address.last_failure_at, now, policy
    )
    address.failures = new_address.failures
    address.locked_until = new_address.locked_until
    address.last_failure_at = now
    address.save(update_fields=["failures", "locked_until", "last_failure_at"])
    if user is not None:
        audit_record(actor=None, action=action, detail={"reason": reason}, **target)
    else:
        _unknown_name_failed(now)
    if locked_now and user is not None:
        audit_record(
            actor=None,
            action="auth.login.locked",
            detail={"seconds": settings.LOGIN_LOCKOUT_SECONDS},
            **target,
        )
    if address_locked:
        audit_record(
            actor=None,
            action="auth.login.address_locked",
            detail={
                "failures": policy.max_failures,
                "seconds": int(policy.lockout.total_seconds()),
            },
        )


def authenticate_credentials(
    *, username: str, password: str, otp: str | None, passkey_next: bool = False
) -> Authenticated:
    """Check password (and a code, where the user has a confirmed device), counting failures.

    With `passkey_next` (the web app), a user with a passkey who gives no code gets
    `passkey_pending`: the password was right, the passkey follows (`passkey_sign_in`).
    For a role in PASSKEY_REQUIRED_ROLES a right code is refused (403 `passkey_required`,
    not counted as a failure) unless it is the web app's bridge to a first passkey.

    Failures are committed before the error is raised, so they count toward the
    lock-out whatever happens to the request. Errors never say which part was wrong.
    A locked account, or an address locked for spraying many names, is refused without
    looking at the password.

    Failures count per user name and per client address. Unknown names neither add rows
    nor one audit event each: they share a fixed set of counters, and an address's
    failures are audited once per window (the first) and again when the address locks,
    with the count.
    """
    key = username.strip().lower()[:150]
    error: DomainError | None = None
    result: Authenticated | None = None
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        address = _throttle_row(_address_key(client_ip()))  # always first: one lock order
        throttle = _throttle_row(_name_key(key))
        now = clock.now()
        state = ThrottleState(failures=throttle.failures, locked_until=throttle.locked_until)
        address_state = ThrottleState(failures=address.failures, locked_until=address.locked_until)
        target: dict[str, Any] = {"target_type": "user", "target_id": user.pk} if user else {}
        if is_locked(address_state, now):
            error = TooManyAttempts(ADDRESS_LOCKED)  # audited once, when it locked
        elif is_locked(state, now):
            if user is not None:
                audit_record(actor=None, action="auth.login.refused_locked", **target)
            error = TooManyAttempts(ACCOUNT_LOCKED)
        else:
            failure, device, pending = _check_credentials(
                user, password, otp, passkey_next=passkey_next
            )
            if failure == "password_login_off" and user is not None:
                # The right password of a role that signs in through the directory: said as
                # such (only the password's holder learns it), and not a failure to count.
                audit_record(actor=None, action="auth.login.refused_password_off", **target)
                error = Unauthorized(PASSWORD_LOGIN_OFF, code="password_login_off")
            elif failure == "passkey_required" and user is not None:
                audit_record(
                    actor=None,
                    action="auth.login.refused",
                    detail={"reason": failure},
                    **target,
                )
                error = Forbidden(
                    PASSKEY_REQUIRED_FOR_ROLE if passkey_next else PASSKEY_REQUIRED_ELSEWHERE,
                    code="passkey_required",
                )
            elif pending and user is not None:
                audit_record(
                    actor=user,
                    action="auth.login.password_accepted",
                    detail={"next": PASSKEY_FACTOR},
                    **target,
                )
                result = Authenticated(user=user, device=None, passkey_pending=True)
            elif failure is None and user is not None:
                throttle.failures = 0
                throttle.locked_until = None
                throttle.save(update_fields=["failures", "locked_until"])
                user.last_login = now
                user.save(update_fields=["last_login"])
                audit_record(
                    actor=user,
                    action="auth.login.succeeded",
                    detail={"otp_verified": device is not None},
                    **target,
                )
                result = Authenticated(user=user, device=device)
            else:
                _count_failure(
                    user=user,
                    throttle=throttle,
                    address=address,
                    now=now,
                    action="auth.login.failed",
                    reason=str(failure),
                )
                error = (
                    Unauthorized(OTP_REUSED, code="otp_reused")
                    if failure == "otp_reused"
                    else Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
                )
    if error is not None:
        raise error
    assert result is not None
    return result


def login(*, username: str, password: str, otp: str | None) -> LoginResult:
    """Authenticate and issue a bearer token that records whether a code was verified."""
    checked = authenticate_credentials(username=username, password=password, otp=otp)
    with transaction.atomic():
        raw, token = token_issue(user=checked.user, otp_verified=checked.device is not None)
    return LoginResult(raw_token=raw, token=token, user=checked.user)


def logout(*, token: AuthToken) -> None:
    token_revoke(token=token, reason="logout")


def password_change(
    *, user: User, token: AuthToken | None, current_password: str, new_password: str
) -> None:
    """Wrong current passwords count per user (committed before the refusal, so the view
    owns no transaction); at PASSWORD_CHANGE_MAX_FAILURES changes are refused for the
    lock-out time, without looking at the password. Log-in is not affected."""
    key = f"#password-change:{user.pk}"
    error: DomainError | None = None
    with transaction.atomic():
        throttle = _throttle_row(key)
        now = clock.now()
        state = ThrottleState(failures=throttle.failures, locked_until=throttle.locked_until)
        if is_locked(state, now):
            error = TooManyAttempts(PASSWORD_CHANGE_LOCKED)
        elif not user.check_password(current_password):
            new_state, locked_now = after_failure(state, now, password_change_policy())
            throttle.failures = new_state.failures
            throttle.locked_until = new_state.locked_until
            throttle.last_failure_at = now
            throttle.save(update_fields=["failures", "locked_until", "last_failure_at"])
            audit_record(
                actor=user,
                action="auth.password.change_locked"
                if locked_now
                else "auth.password.change_failed",
                target_type="user",
                target_id=user.pk,
            )
            error = DomainError(PASSWORD_WRONG, field="current_password")
    if error is not None:
        raise error
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise DomainError(fields={"new_password": list(exc.messages)}) from exc
    with transaction.atomic():
        LoginThrottle.objects.filter(username=key).update(failures=0, locked_until=None)
        user.set_password(new_password)
        user.password_must_change = False
        user.save(update_fields=["password", "password_must_change"])
        audit_record(
            actor=user, action="auth.password.changed", target_type="user", target_id=user.pk
        )
        tokens_revoke_for_user(user=user, reason="password_changed", actor=user, keep=token)


# --- Two-factor devices ----------------------------------------------------------------


def otp_device_new(*, user: User, name: str, confirmed: bool = False) -> SealedTOTPDevice:
    """A device with a new random seed, sealed bound to the row (its id taken first)."""
    return SealedTOTPDevice.objects.create(
        id=next_id(SealedTOTPDevice), user=user, name=name, confirmed=confirmed, seed=random_hex(20)
    )


def otp_seeds_reseal(*, batch: int = 500) -> dict[str, Resealed]:
    """Key rotation: every TOTP seed under the current key (a clear one is sealed)."""

    def reseal(device: models.Model, column: str) -> str | None:
        try:
            return reseal_seed(getattr(device, column), device_id=int(device.pk))  # type: ignore[arg-type]
        except UnreadableSeed:
            raise Unreadable(column) from None

    return {
        SealedTOTPDevice._meta.db_table: reseal_table(
            SealedTOTPDevice, ("key",), batch=batch, reseal=reseal
        )
    }


LANGUAGE_UNKNOWN = "Choose English or Cymraeg."


def user_language_set(*, user: User, language: str) -> User:
    """The language of the person's pages; audited like any change to their account."""
    choices = dict(User._meta.get_field("language").choices or [])
    if language not in choices:
        raise DomainError(LANGUAGE_UNKNOWN, field="language", code="invalid_choice")
    with transaction.atomic():
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])
            audit_record(
                actor=user,
                action="user.language_set",
                target_type="user",
                target_id=user.pk,
                detail={"language": language},
            )
    return user


def otp_key_for_typing(device: SealedTOTPDevice) -> str:
    """The device's secret as an authenticator app asks for it when typed in: base32, in
    groups of four."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[n : n + 4] for n in range(0, len(key), 4))


def otp_device_start(*, user: User, verified: bool, name: str) -> SealedTOTPDevice:
    """An unconfirmed TOTP device for the caller. Replaces any earlier unconfirmed one.

    A user who has a confirmed device (or a passkey) already must be signed in with it to
    add another, so a stolen password alone cannot enrol the thief's phone.
    """
    with transaction.atomic():
        if has_second_factor(user) and not verified:
            raise Forbidden(OTP_ENROL_NEEDS_VERIFIED, code="two_factor_required")
        SealedTOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = otp_device_new(user=user, name=name or "Authenticator")
        audit_record(
            actor=user,
            action="auth.otp.enrolment_started",
            target_type="otp_device",
            target_id=device.pk,
        )
        return device


def otp_device_confirm(
    *, user: User, device_id: int, otp: str, token: AuthToken | None = None
) -> SealedTOTPDevice:
    """Confirm a device with a code from it; the caller's token (if any) then counts as
    verified. The web app marks its session verified itself.

    A wrong code is committed against the device's throttle before the error is raised.
    """
    error: DomainError | None = None
    with transaction.atomic():
        device = (
            SealedTOTPDevice.objects.select_for_update().filter(pk=device_id, user=user).first()
        )
        if device is None:
            raise NotFound()
        if device.confirmed:
            raise DomainError(OTP_ALREADY_CONFIRMED, field="otp", code="already_confirmed")
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            error = DomainError(OTP_THROTTLED, field="otp", code="throttled")
        elif not device.verify_token(otp):
            error = DomainError(OTP_INVALID, field="otp", code="invalid_otp")
            audit_record(
                actor=user,
                action="auth.otp.confirm_failed",
                target_type="otp_device",
                target_id=device.pk,
            )
        else:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            if token is not None:
                AuthToken.objects.filter(pk=token.pk).update(otp_verified=True)
                token.otp_verified = True
            audit_record(
                actor=user,
                action="auth.otp.confirmed",
                target_type="otp_device",
                target_id=device.pk,
            )
    if error is not None:
        raise error
    return device


CANNOT_RESET_OWN_DEVICES = (
    "Another administrator resets your devices: nobody removes their own second factor this way."
)


def otp_devices_reset(*, actor: User, user: User) -> int:
    """Remove a user's devices and passkeys (a lost phone or key) and end their sessions;
    they enrol again. Never a clinician's: that is an OH lead's recovery
    (`account_recover`); never one's own: another administrator's."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        refusal = credential_reset_refusal(target_role=user.role)
        if refusal:
            raise Forbidden(refusal, code="clinician_credentials")
        if user.pk == actor.pk:
            raise Forbidden(CANNOT_RESET_OWN_DEVICES, code="own_devices")
        count, _ = SealedTOTPDevice.objects.filter(user=user).delete()
        passkeys = _passkeys_delete(user=user)
        audit_record(
            actor=actor,
            action="user.otp_reset",
            target_type="user",
            target_id=user.pk,
            detail={"devices": count, "passkeys": passkeys},
        )
        tokens_revoke_for_user(user=user, reason="otp_reset", actor=actor)
        return count


# --- Passkeys (WebAuthn) ------------------------------------------------------------------
# The ceremonies' cryptography is django-otp-webauthn's (`helper`: its WebAuthnHelper for
# the request, which knows the relying party); what is allowed, and the audit, is ours.

PASSKEY_NEEDS_VERIFIED = (
    "Sign in with your second factor (authenticator app or passkey) before adding a passkey."
)
PASSKEY_REMOVE_NEEDS_VERIFIED = "Sign in with your second factor before removing a passkey."
PASSKEY_NOT_VERIFIED = "That passkey did not verify. Try again, or use another passkey."
PASSKEY_KNOWN = "That passkey is registered already."
PASSKEY_NAME_INVALID = "Give the passkey a name of 1 to 64 characters."


def _passkeys_delete(*, user: User) -> int:
    """Every passkey of the user (with its attestation), counted."""
    passkeys = WebAuthnCredential.objects.filter(user=user)
    count = passkeys.count()
    passkeys.delete()
    return count


def passkeys_of(user: User) -> models.QuerySet[WebAuthnCredential]:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")


def passkey_add(
    *, user: User, verified_with: str | None, helper: Any, state: dict[str, Any], data: Any
) -> WebAuthnCredential:
    """Verify a new passkey's registration and keep it, audited (`otp.passkey_added`).
    Only in a session already verified with a second factor (`verified_with`: `totp` or
    `passkey`): for a role that requires passkeys, the code of the authenticator app is
    the bridge to the first one. Raises the library's API errors for a bad response."""
    if verified_with not in {TOTP_FACTOR, PASSKEY_FACTOR}:
        raise Forbidden(PASSKEY_NEEDS_VERIFIED, code="two_factor_required")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        try:
            with transaction.atomic():
                passkey = helper.register_complete(user=user, state=state, data=data)
        except IntegrityError:
            raise Conflict(PASSKEY_KNOWN, code="passkey_known") from None
        number = WebAuthnCredential.objects.filter(user=user).count()
        passkey.name = f"Passkey {number}"
        passkey.save(update_fields=["name"])
        audit_record(
            actor=user,
            action="otp.passkey_added",
            target_type="passkey",
            target_id=passkey.pk,
            detail={"verified_with": verified_with},
        )
    return passkey


def passkey_rename(*, user: User, passkey_id: int, name: str) -> WebAuthnCredential:
    """A name of one's own passkey, for telling them apart (audited, without the name)."""
    name = name.strip()
    with transaction.atomic():
        passkey = passkeys_of(user).select_for_update().filter(pk=passkey_id).first()
        if passkey is None:
            raise NotFound()
        if not 1 <= len(name) <= 64:
            raise DomainError(PASSKEY_NAME_INVALID, field="name")
        if passkey.name != name:
            passkey.name = name
            passkey.save(update_fields=["name"])
            audit_record(
                actor=user,
                action="otp.passkey_renamed",
                target_type="passkey",
                target_id=passkey.pk,
            )
    return passkey


def passkey_remove(*, user: User, passkey_id: int, verified_with: str | None) -> None:
    """Remove one's own passkey, audited (`otp.passkey_removed`): only in a session verified
    with a second factor, and never the last passkey of a role that requires one, nor the
    last second factor of a role that needs one. Sessions verified with it end at their
    next request (django-otp no longer finds the device)."""
    if verified_with not in {TOTP_FACTOR, PASSKEY_FACTOR}:
        raise Forbidden(PASSKEY_REMOVE_NEEDS_VERIFIED, code="two_factor_required")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        passkey = passkeys_of(user).filter(pk=passkey_id).first()
        if passkey is None:
            raise NotFound()
        refusal = passkey_removal_refusal(
            role=user.role,
            needs_two_factor=user.needs_two_factor,
            passkeys_left=passkeys_of(user).exclude(pk=passkey.pk).count(),
            totp_devices=SealedTOTPDevice.objects.filter(user=user, confirmed=True).count(),
            required_roles=passkey_required_roles(),
        )
        if refusal:
            raise Conflict(refusal, code="last_factor")
        audit_record(
            actor=user,
            action="otp.passkey_removed",
            target_type="passkey",
            target_id=passkey.pk,
            detail={"name": passkey.name},
        )
        passkey.delete()


def passkey_sign_in(
    *, user_id: int, helper: Any, state: dict[str, Any], data: Any
) -> tuple[User, WebAuthnCredential]:
    """The second step of the web app's log-in (after `authenticate_credentials` said
    `passkey_pending`): verify the assertion of one of the user's passkeys. A failure is
    counted toward the account's lock-out and audited, and committed before the error; a
    locked account is refused without looking at the passkey."""
    error: DomainError | None = None
    result: tuple[User, WebAuthnCredential] | None = None
    with transaction.atomic():
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
        throttle = _throttle_row(_name_key(user.username.lower()[:150]))
        now = clock.now()
        state_now = ThrottleState(failures=throttle.failures, locked_until=throttle.locked_until)
        target: dict[str, Any] = {"target_type": "user", "target_id": user.pk}
        if is_locked(state_now, now):
            audit_record(actor=None, action="auth.login.refused_locked", **target)
            error = TooManyAttempts(ACCOUNT_LOCKED)
        else:
            passkey: WebAuthnCredential | None = None
            try:
                with transaction.atomic():
                    passkey = helper.authenticate_complete(user=user, state=state, data=data)
            except (OTPWebAuthnApiError, WebAuthnException, KeyError, ValueError):
                passkey = None  # any refusal of the assertion is a failed log-in
            if passkey is not None and passkey.confirmed:
                throttle.failures = 0
                throttle.locked_until = None
                throttle.save(update_fields=["failures", "locked_until"])
                user.last_login = now
                user.save(update_fields=["last_login"])
                audit_record(
                    actor=user,
                    action="auth.login.succeeded",
                    detail={"otp_verified": True, "factor": PASSKEY_FACTOR},
                    **target,
                )
                result = (user, passkey)
            else:
                new_state, locked_now = after_failure(state_now, now, lockout_policy())
                throttle.failures = new_state.failures
                throttle.locked_until = new_state.locked_until
                throttle.last_failure_at = now
                throttle.save(update_fields=["failures", "locked_until", "last_failure_at"])
                audit_record(
                    actor=None,
                    action="auth.login.failed",
                    detail={"reason": PASSKEY_FACTOR},
                    **target,
                )
                if locked_now:
                    audit_record(
                        actor=None,
                        action="auth.login.locked",
                        detail={"seconds": settings.LOGIN_LOCKOUT_SECONDS},
                        **target,
                    )
                error = Unauthorized(PASSKEY_NOT_VERIFIED, code="passkey_invalid")
    if error is not None:
        raise error
    assert result is not None
    return result


def second_factor_of(device: Any) -> str | None:
    """Which second factor a django-otp device is: `passkey`, `totp`, or None."""
    if isinstance(device, WebAuthnCredential):
        return PASSKEY_FACTOR
    if isinstance(device, SealedTOTPDevice | TOTPDevice):
        return TOTP_FACTOR
    return None


def second_factor_complete(*, user: Any, device: Any) -> bool:
    """Whether a session verified with `device` has the second factor the user's role needs
    (for a role in PASSKEY_REQUIRED_ROLES: a passkey)."""
    return factor_completes(
        # The account's role, whatever hat the person is served in.
        role=str(getattr(user, "account_role", None) or getattr(user, "role", "")),
        factor=second_factor_of(device),
        required_roles=passkey_required_roles(),
    )


# --- Users ----------------------------------------------------------------------------

PASSWORD_REQUIRED = "A new user needs a password."  # noqa: S105 - a message
NO_PASSWORD_GIVEN_ONE = "An account made without a password takes none."  # noqa: S105
DIRECTORY_ID_TAKEN = "Another account has this directory id."


def _validate_new_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise DomainError(fields={"password": list(exc.messages)}) from exc


def user_create(
    *,
    actor: User | None,
    username: str,
    role: str,
    password: str = "",
    email: str = "",
    is_active: bool = True,
    no_password: bool = False,
    directory_id: str | None = None,
) -> User:
    """A new account. A clinician's account made by an administrator is created inactive,
    with no usable password, and proposed to the OH leads: it opens when a lead approves,
    who then hands over its first (temporary) password. `actor` None: the system (seeding,
    the demo, the directory's provisioning), which the two-person rule does not bind.
    `directory_id`: its id in the directory. An account from the directory may have no
    password (its person signs in through the directory); `no_password`: an account with no
    usable password (made by a bulk import: the person signs in through single sign-on, or
    an administrator sets a password later)."""
    held = actor is not None and role == Role.OH
    if held and password:
        raise Forbidden(CLINICIAN_CREDENTIALS_BY_LEAD, code="clinician_credentials")
    if no_password and password:
        raise DomainError(NO_PASSWORD_GIVEN_ONE, field="password")
    user = User(
        username=username,
        role=role,
        email=email,
        is_active=is_active and not held,
        directory_id=directory_id or None,
    )
    user.is_staff = role == Role.ADMIN
    if held or no_password or (directory_id and not password):
        user.set_unusable_password()
    else:
        if not password:
            raise DomainError(PASSWORD_REQUIRED, field="password", code="required")
        _validate_new_password(password, user)
        user.set_password(password)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise DomainError(USERNAME_TAKEN, field="username", code="unique")
        if directory_id and User.objects.filter(directory_id=directory_id).exists():
            raise DomainError(DIRECTORY_ID_TAKEN, field="directory_id", code="unique")
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise DomainError(USERNAME_TAKEN, field="username", code="unique") from exc
        detail: dict[str, Any] = {"role": role, "is_active": user.is_active}
        if directory_id:
            detail["from_directory"] = True
        if held:
            detail["awaiting"] = GrantKind.OH
        audit_record(
            actor=actor,
            action="user.created",
            target_type="user",
            target_id=user.pk,
            detail=detail,
        )
        if held:
            assert actor is not None
            _grant_propose(actor=actor, user=user, kind=GrantKind.OH)
    return user


def _role_change_refusal(user: User, new_role: str) -> str | None:
    if user.is_superuser and new_role != Role.ADMIN:
        return "A superuser is always an administrator."
    for guard in role_change_guards:
        refusal = guard(user, new_role)
        if refusal:
            return refusal
    return None


def user_update(*, actor: User | None, user: User, changes: dict[str, Any]) -> User:
    """Change a user's role, user name, email, password or active flag; deactivation ends
    every session. `actor` None: the system (the directory's provisioning or sign-in).

    Removing access is immediate; giving clinical access is not: a change that would make
    someone an active clinician (the role `oh`, or reactivating a clinician's account) is
    held as a proposal that an OH lead approves (`role_grant_approve`). A clinician's
    password is never set here (`account_recover`). `actor` None: the system (the force's
    directory at single sign-on), which can never propose clinical access."""
    changed: list[str] = []
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if changes.get("password"):
            refusal = credential_reset_refusal(target_role=user.role)
            if refusal:
                raise Forbidden(refusal, code="clinician_credentials")
        role_before, active_before = user.role, user.is_active
        new_role = changes.get("role", user.role)
        new_active = bool(changes.get("is_active", user.is_active))
        held = gives_clinical_access(
            role_before=role_before,
            active_before=active_before,
            role_after=new_role,
            active_after=new_active,
        )
        if new_role != user.role:
            if actor is not None and user.pk == actor.pk:
                raise DomainError(CANNOT_DEMOTE_SELF, field="role")
            refusal = _role_change_refusal(user, new_role)
            if refusal:
                raise DomainError(refusal, field="role", code="in_use")
        if held and actor is None:
            raise Forbidden(CLINICAL_ACCESS_BY_A_PERSON, code="not_allowed")
        if held:
            assert actor is not None
            # The role (and activation) waits for a lead; everything else is applied.
            _grant_propose(actor=actor, user=user, kind=GrantKind.OH)
            new_role, new_active = role_before, active_before
        if new_role != user.role:
            user.role = new_role
            user.is_staff = new_role == Role.ADMIN or user.is_superuser
            if user.is_oh_lead and new_role != Role.OH:
                # No longer a clinician, so no longer a lead (with none, escalations go
                # to every clinician): recorded as such, whoever changed the role.
                user.is_oh_lead = False
                audit_record(
                    actor=actor,
                    action="user.oh_lead.revoked",
                    target_type="user",
                    target_id=user.pk,
                    detail={"by": "role change"},
                )
            changed.append("role")
        if "username" in changes and changes["username"] != user.username:
            taken = User.objects.filter(username__iexact=changes["username"]).exclude(pk=user.pk)
            if taken.exists():
                raise DomainError(USERNAME_TAKEN, field="username", code="unique")
            user.username = changes["username"]
            changed.append("username")
        if "email" in changes and changes["email"] != user.email:
            user.email = changes["email"]
            changed.append("email")
        if "directory_id" in changes and (changes["directory_id"] or None) != user.directory_id:
            taken = User.objects.filter(directory_id=changes["directory_id"]).exclude(pk=user.pk)
            if changes["directory_id"] and taken.exists():
                raise DomainError(DIRECTORY_ID_TAKEN, field="directory_id", code="unique")
            user.directory_id = changes["directory_id"] or None
            changed.append("directory_id")
        if changes.get("password"):
            _validate_new_password(changes["password"], user)
            user.set_password(changes["password"])
            changed.append("password")
        deactivating = False
        if new_active != user.is_active:
            if actor is not None and user.pk == actor.pk and not new_active:
                raise DomainError(CANNOT_DEACTIVATE_SELF, field="is_active")
            user.is_active = new_active
            deactivating = not user.is_active
            changed.append("is_active")
        if not changed:
            return user
        user.save()
        audit_record(
            actor=actor,
            action="user.deactivated" if deactivating else "user.updated",
            target_type="user",
            target_id=user.pk,
            detail={"changed": changed, "role": user.role},
        )
        was_clinician = role_before == Role.OH and active_before
        if was_clinician and not (user.role == Role.OH and user.is_active):
            # Shown to the OH leads: a clinician's access was taken away.
            audit_record(
                actor=actor,
                action="role.revoked",
                target_type="user",
                target_id=user.pk,
                detail={
                    "kind": GrantKind.OH,
                    "by": "deactivation" if deactivating else "role change",
                },
            )
        if deactivating or "role" in changed:
            # What was proposed for the account as it was no longer stands.
            _grants_withdraw(actor=actor, user=user)
        if deactivating:
            tokens_revoke_for_user(user=user, reason="deactivated", actor=actor)
        elif "password" in changed or "role" in changed:
            tokens_revoke_for_user(user=user, reason="credentials_changed", actor=actor)
    return user


def user_deactivate(*, actor: User | None, user: User) -> User:
    return user_update(actor=actor, user=user, changes={"is_active": False})


# --- How a person's notifications reach them by e-mail ------------------------------------

NOTIFY_BY_NOT_A_CHOICE = (
    "Only supervisors and occupational health choose a daily digest: your messages are "
    "e-mailed as they arrive."
)
NOTIFY_BY_INVALID = "Choose digest or immediate."


def user_notify_by_set(*, user: User, notify_by: str) -> User:
    """A supervisor's or clinician's own choice: non-urgent notifications e-mailed in one
    daily digest, or each at once (urgent ones are e-mailed at once either way). Audited;
    a choice that changes nothing writes nothing."""
    if user.role not in DIGEST_ROLES:
        raise Forbidden(NOTIFY_BY_NOT_A_CHOICE)
    if notify_by not in NotifyBy.values:
        raise DomainError(NOTIFY_BY_INVALID, field="notify_by")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        previous = user.notify_by
        if previous == notify_by:
            return user
        user.notify_by = notify_by
        user.save(update_fields=["notify_by"])
        audit_record(
            actor=user,
            action="user.notify_by.changed",
            target_type="user",
            target_id=user.pk,
            detail={"notify_by": notify_by, "previous": previous},
        )
    return user


# --- Occupational health leads --------------------------------------------------------------

ONLY_A_LEAD = "Only an occupational health lead can change who is a lead."
LEAD_MUST_BE_CLINICIAN = "Only an active occupational health clinician can be a lead."
LAST_LEAD = "This is the last lead: make someone else a lead first."
A_LEAD_EXISTS = "There is an occupational health lead already: ask a lead to grant it."
LEAD_BY_APPROVAL = "A lead is made by a proposal that another OH lead approves: propose it instead."


def _active_leads() -> list[User]:
    return list(
        User.objects.select_for_update().filter(role=Role.OH, is_active=True, is_oh_lead=True)
    )


def oh_lead_set(*, actor: User | None, user: User, lead: bool) -> User:
    """Make the first OH lead of a service with none (`actor` None: the `oh_lead` command),
    or let a lead take the flag away from a lead (themselves included). Urgent work that is
    not acknowledged in time escalates to the leads. Later leads are granted by proposal
    and another lead's approval (`role_grant_propose`). The last active lead cannot step
    down: escalation must reach someone who chose to be reached."""
    with transaction.atomic():
        leads = _active_leads()
        if actor is None:
            if leads:
                raise Conflict(A_LEAD_EXISTS, code="lead_exists")
        elif actor.role != Role.OH or actor.pk not in {u.pk for u in leads}:
            raise Forbidden(ONLY_A_LEAD)
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_oh_lead == lead:
            return user
        if lead and actor is not None:
            raise Forbidden(LEAD_BY_APPROVAL, code="needs_approval")
        if lead and (user.role != Role.OH or not user.is_active):
            raise DomainError(LEAD_MUST_BE_CLINICIAN, field="user")
        if not lead and [u.pk for u in leads] == [user.pk]:
            raise Conflict(LAST_LEAD, code="last_lead")
        user.is_oh_lead = lead
        user.save(update_fields=["is_oh_lead"])
        audit_record(
            actor=actor,
            action="user.oh_lead.granted" if lead else "user.oh_lead.revoked",
            target_type="user",
            target_id=user.pk,
        )
    return user


# --- Separation of duties: grants of clinical access, and recovery ------------------------------

GRANT_CONTRADICTED = "This proposal was decided otherwise, or withdrawn, already."
GRANT_NO_LONGER_FITS = "The account changed since this was proposed: propose it again."


@dataclass(frozen=True)
class Decision:
    grant: RoleGrant
    # A clinician's first password after an `oh` approval: shown once to the approving lead.
    temporary_password: str | None = None


def _grant_propose(*, actor: User, user: User, kind: str) -> tuple[RoleGrant, bool]:
    """The pending grant of `kind` for `user` (locked by the caller), proposing it if there
    is none: (grant, created)."""
    actor = User.objects.get(pk=actor.pk)  # the role and lead flag as they are now
    refusal = proposal_refusal(
        kind=kind,
        proposer_role=actor.role,
        proposer_is_lead=actor.is_oh_lead,
        proposer_id=actor.pk,
        subject_id=user.pk,
        subject_role=user.role,
        subject_active=user.is_active,
        subject_is_lead=user.is_oh_lead,
        subject_is_superuser=user.is_superuser,
        other_leads=User.objects.filter(role=Role.OH, is_active=True, is_oh_lead=True)
        .exclude(pk=actor.pk)
        .count(),
    )
    if refusal:
        raise Forbidden(refusal, code="not_allowed")
    pending = RoleGrant.objects.filter(user=user, kind=kind, state=GrantState.PENDING).first()
    if pending is not None:
        return pending, False
    grant = RoleGrant.objects.create(
        kind=kind, user=user, proposed_by=actor, proposed_at=clock.now()
    )
    audit_record(
        actor=actor,
        action="role.grant_proposed",
        target_type="user",
        target_id=user.pk,
        detail={"kind": kind, "grant": grant.pk},
    )
    return grant, True


def role_grant_propose(*, actor: User, user: User, kind: str) -> tuple[RoleGrant, bool]:
    """Propose a grant (an administrator proposes clinical access through the user's role;
    an administrator or a lead proposes a lead). A second proposal of what is pending
    returns the pending one: (grant, created)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        return _grant_propose(actor=actor, user=user, kind=kind)


def _grants_withdraw(
    *, actor: User | None, user: User, kinds: tuple[str, ...] = (GrantKind.OH, GrantKind.OH_LEAD)
) -> None:
    """Pending proposals that no longer fit the account (it was deactivated, its role
    changed, or it stopped being a clinician): withdrawn, audited."""
    stale = RoleGrant.objects.select_for_update().filter(user=user, state=GrantState.PENDING)
    if user.role != Role.OH or not user.is_active:
        kinds = (*kinds, GrantKind.OH_LEAD)
    for grant in stale.filter(kind__in=kinds):
        _withdraw(actor=actor, grant=grant)


def _withdraw(*, actor: User | None, grant: RoleGrant) -> None:
    grant.state = GrantState.WITHDRAWN
    grant.decided_by = actor
    grant.decided_at = clock.now()
    grant.save(update_fields=["state", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="role.grant_withdrawn",
        target_type="user",
        target_id=grant.user_id,
        detail={"kind": grant.kind, "grant": grant.pk},
    )


def _locked_decision(*, actor: User, grant: RoleGrant, wanted: str) -> tuple[RoleGrant, bool]:
    """The grant locked (after its subject: the order every writer of both takes), checked
    for the two-person rule: (grant, already decided so)."""
    User.objects.select_for_update().filter(pk=grant.user_id).first()
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    approver = User.objects.get(pk=actor.pk)  # the lead flag as it is now
    refusal = decision_refusal(
        approver_role=approver.role,
        approver_is_lead=approver.is_oh_lead and approver.is_active,
        approver_id=approver.pk,
        proposer_id=grant.proposed_by_id,
        subject_id=grant.user_id,
    )
    if refusal:
        raise Forbidden(refusal, code="not_allowed")
    repeats = decision_repeats(state=grant.state, wanted=wanted)
    if repeats is None:
        raise Conflict(GRANT_CONTRADICTED, code="decided")
    return grant, repeats


def _temporary_password() -> str:
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def _credentials_reset(*, user: User) -> tuple[str, int, int]:
    """A one-time password (to be changed at the next log-in), no devices, no passkeys, no
    sessions: whoever held the account's credentials before holds nothing. The password is
    returned, never recorded: (password, devices removed, passkeys removed)."""
    temporary = _temporary_password()
    user.set_password(temporary)
    user.password_must_change = True
    devices, _ = SealedTOTPDevice.objects.filter(user=user).delete()
    passkeys = _passkeys_delete(user=user)
    LoginThrottle.objects.filter(username=user.username.lower()).update(
        failures=0, locked_until=None
    )
    return temporary, devices, passkeys


def role_grant_approve(*, actor: User, grant: RoleGrant) -> Decision:
    """An OH lead (not the proposer, not the subject) approves: the account becomes an
    active clinician, or the clinician a lead. A new clinician's credentials come from the
    approving lead (a temporary password, returned once; no devices), so nobody who set
    them before (an administrator) can use them. Approving again changes nothing."""
    with transaction.atomic():
        grant, repeats = _locked_decision(actor=actor, grant=grant, wanted=GrantState.APPROVED)
        if repeats:
            return Decision(grant=grant)
        user = User.objects.select_for_update().get(pk=grant.user_id)
        temporary: str | None = None
        detail: dict[str, Any] = {"kind": grant.kind, "grant": grant.pk}
        if grant.kind == GrantKind.OH:
            if user.role != Role.OH:
                refusal = _role_change_refusal(user, Role.OH)
                if refusal:
                    raise DomainError(refusal, field="role", code="in_use")
            elif user.is_active:
                raise Conflict(GRANT_NO_LONGER_FITS, code="no_longer_fits")
            user.role = Role.OH
            user.is_staff = False
            user.is_active = True
            temporary, detail["devices_removed"], detail["passkeys_removed"] = _credentials_reset(
                user=user
            )
            user.save()
        else:
            if user.role != Role.OH or not user.is_active:
                raise Conflict(GRANT_NO_LONGER_FITS, code="no_longer_fits")
            user.is_oh_lead = True
            user.save(update_fields=["is_oh_lead"])
        grant.state = GrantState.APPROVED
        grant.decided_by = actor
        grant.decided_at = clock.now()
        grant.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            actor=actor, action="role.granted", target_type="user", target_id=user.pk, detail=detail
        )
        if temporary is not None:
            tokens_revoke_for_user(user=user, reason="role_granted", actor=actor)
    return Decision(grant=grant, temporary_password=temporary)


def role_grant_decline(*, actor: User, grant: RoleGrant) -> RoleGrant:
    """An OH lead (not the proposer, not the subject) declines: nothing changes for the
    account (a new clinician's stays closed). Declining again changes nothing. The proposer
    declining their own pending proposal withdraws it."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=grant.user_id).first()
        locked = RoleGrant.objects.select_for_update().get(pk=grant.pk)
        if locked.proposed_by_id == actor.pk and locked.state == GrantState.PENDING:
            _withdraw(actor=actor, grant=locked)
            return locked
        grant, repeats = _locked_decision(actor=actor, grant=grant, wanted=GrantState.DECLINED)
        if repeats:
            return grant
        grant.state = GrantState.DECLINED
        grant.decided_by = actor
        grant.decided_at = clock.now()
        grant.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action="role.grant_declined",
            target_type="user",
            target_id=grant.user_id,
            detail={"kind": grant.kind, "grant": grant.pk},
        )
    return grant


def account_recover(*, actor: User, user: User) -> str:
    """An OH lead recovers another clinician's account (a forgotten password, a lost
    phone or passkey): a temporary password, returned once and never recorded, that serves
    only to choose a new one; the devices and passkeys are removed (they enrol again) and
    every session ends."""
    with transaction.atomic():
        lead = User.objects.get(pk=actor.pk)
        user = User.objects.select_for_update().get(pk=user.pk)
        refusal = recovery_refusal(
            actor_role=lead.role,
            actor_is_lead=lead.is_oh_lead and lead.is_active,
            actor_id=lead.pk,
            subject_id=user.pk,
            subject_role=user.role,
            subject_active=user.is_active,
        )
        if refusal:
            raise Forbidden(refusal, code="not_allowed")
        temporary, devices, passkeys = _credentials_reset(user=user)
        user.save(update_fields=["password", "password_must_change"])
        audit_record(
            actor=actor,
            action="account.recovered",
            target_type="user",
            target_id=user.pk,
            detail={"devices_removed": devices, "passkeys_removed": passkeys},
        )
        tokens_revoke_for_user(user=user, reason="recovered", actor=actor)
    return temporary


# --- Single sign-on: the directory vouches for the person, this service decides -------------

SSO_REFUSED = "Single sign-on did not work. Sign in again, or ask your administrator for help."
SSO_NOT_LINKED = (
    "Your directory account is not linked to an account on this service. Ask your "
    "administrator to set one up for you."
)
SSO_INACTIVE = "This account is not active. Ask your administrator."
SSO_CODE_REQUIRED = "Enter the code from your authenticator app as well."
SSO_CODE_EXPIRED = "Signing in took too long. Sign in again."
SSO_TOKEN_USED = "This sign-in has been used already. Sign in again."  # noqa: S105


@dataclass(frozen=True)
class SsoSignIn:
    user: User
    # The directory's own multi-factor sign-in stands for the second factor (OIDC_TRUST_IDP_MFA).
    mfa_by_directory: bool
    # The service's own code is still to be entered (the web app's code step).
    needs_code: bool
    device: SealedTOTPDevice | None = None


def sso_refusal_record(*, reason: str, channel: str, user: User | None = None) -> None:
    """An SSO sign-in refused before any account was looked at (a token that failed its
    checks, the provider unreachable): audited with the reason, never the token."""
    target: dict[str, Any] = {"target_type": "user", "target_id": user.pk} if user else {}
    with transaction.atomic():
        audit_record(
            actor=None,
            action="auth.sso_refused",
            detail={"reason": reason, "channel": channel},
            **target,
        )


def _sso_succeeded(
    *, user: User, throttle: LoginThrottle, now: datetime, detail: dict[str, Any]
) -> None:
    throttle.failures = 0
    throttle.locked_until = None
    throttle.save(update_fields=["failures", "locked_until"])
    user.last_login = now
    user.save(update_fields=["last_login"])
    audit_record(
        actor=user, action="auth.sso_login", target_type="user", target_id=user.pk, detail=detail
    )


def _sso_role_from_directory(*, user: User, claims: Mapping[str, Any], channel: str) -> User:
    """The role the directory's groups give (only when OIDC_ROLE_CLAIM is configured),
    applied through `user_update` and audited; a change the service refuses (the officer
    has a posting, the person supervises units) leaves the role as it is, audited."""
    if not settings.OIDC_ROLE_CLAIM or not settings.OIDC_GROUP_ROLES:
        return user
    wanted = role_from_directory(
        groups=claims.get(settings.OIDC_ROLE_CLAIM),
        mapping=settings.OIDC_GROUP_ROLES,
        current_role=user.role,
        is_superuser=user.is_superuser,
    )
    if wanted is None:
        return user
    before = user.role
    try:
        updated = user_update(actor=None, user=user, changes={"role": wanted})
    except DomainError as refused:
        audit_record(
            actor=None,
            action="auth.sso_role_kept",
            target_type="user",
            target_id=user.pk,
            detail={"role": before, "directory_role": wanted, "code": refused.code},
        )
        return User.objects.get(pk=user.pk)
    audit_record(
        actor=None,
        action="auth.sso_role_changed",
        target_type="user",
        target_id=user.pk,
        detail={"from": before, "to": updated.role, "channel": channel},
    )
    return updated


def _sso_claim_token(*, token_hash: str, user: User, now: datetime, expires_at: datetime) -> bool:
    """Record an id_token as used; False when it was used already (concurrent uses wait on
    the row, and all but the first find it taken)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_ssotokenuse (token_hash, user_id, used_at, expires_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (token_hash) DO NOTHING",
            [token_hash, user.pk, now, expires_at],
        )
        return cursor.rowcount == 1


def sso_sign_in(
    *,
    claims: Mapping[str, Any],
    channel: str,
    otp: str | None = None,
    token_hash: str | None = None,
) -> SsoSignIn:
    """Sign in the person an id_token (already verified: signature, issuer, audience, times,
    nonce) names: an existing active account whose `directory_id` is the configured subject
    claim, never found by e-mail, never created. A locked-out account is refused, as for a
    password. The directory's groups may change the role (OIDC_ROLE_CLAIM). A user with a
    confirmed device still owes its code unless the directory's multi-factor sign-in is
    trusted (OIDC_TRUST_IDP_MFA and "mfa" in amr).

    The web app passes no `otp` and gets `needs_code` (its code step follows); the API
    passes the code with the token, and `token_hash` so that one id_token is used once.
    Refusals are committed (audited, wrong codes counted) before they are raised."""
    error: DomainError | None = None
    result: SsoSignIn | None = None
    with transaction.atomic():
        now = clock.now()
        address = _throttle_row(_address_key(client_ip()))  # the log-in's lock order
        subject = subject_of(claims, settings.OIDC_SUBJECT_CLAIM)
        user = (
            User.objects.select_for_update().filter(directory_id=subject).first()
            if subject is not None
            else None
        )
        base = {"channel": channel}
        if user is None:
            reason = "unknown_subject" if subject is not None else "no_subject"
            audit_record(actor=None, action="auth.sso_refused", detail={"reason": reason, **base})
            error = Unauthorized(SSO_NOT_LINKED, code="sso_not_linked")
        elif not user.is_active:
            audit_record(
                actor=None,
                action="auth.sso_refused",
                target_type="user",
                target_id=user.pk,
                detail={"reason": "inactive", **base},
            )
            error = Unauthorized(SSO_INACTIVE, code="sso_inactive")
        else:
            throttle = _throttle_row(user.username.lower()[:150])
            target: dict[str, Any] = {"target_type": "user", "target_id": user.pk}
            error = _sso_locked(
                user=user, throttle=throttle, address=address, now=now, channel=base["channel"]
            )
            if error is None:
                user = _sso_role_from_directory(user=user, claims=claims, channel=channel)
                mfa = settings.OIDC_TRUST_IDP_MFA and amr_says_mfa(claims.get("amr"))
                has_device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
                device: SealedTOTPDevice | None = None
                if has_device and not mfa and otp is None and channel == "api":
                    audit_record(
                        actor=None,
                        action="auth.sso_refused",
                        detail={"reason": "otp_missing", **base},
                        **target,
                    )
                    error = Unauthorized(SSO_CODE_REQUIRED, code="otp_required")
                elif has_device and not mfa and otp is not None:
                    device, error = _sso_code(
                        user=user, otp=otp, throttle=throttle, address=address, now=now
                    )
                if error is None and token_hash is not None:
                    exp = claims.get("exp")
                    until = float(exp) if isinstance(exp, int | float) else now.timestamp()
                    expires = datetime.fromtimestamp(until, tz=now.tzinfo)
                    if not _sso_claim_token(
                        token_hash=token_hash, user=user, now=now, expires_at=max(expires, now)
                    ):
                        audit_record(
                            actor=None,
                            action="auth.sso_refused",
                            detail={"reason": "replayed", **base},
                            **target,
                        )
                        error = Unauthorized(SSO_TOKEN_USED, code="sso_token_used")
                if error is None:
                    needs_code = has_device and not mfa and device is None
                    if not needs_code:
                        _sso_succeeded(
                            user=user,
                            throttle=throttle,
                            now=now,
                            detail={
                                "channel": channel,
                                "otp_verified": mfa or device is not None,
                                "second_factor": "directory" if mfa else "code" if device else None,
                            },
                        )
                    result = SsoSignIn(
                        user=user, mfa_by_directory=mfa, needs_code=needs_code, device=device
                    )
    if error is not None:
        raise error
    assert result is not None
    return result


def sso_code_verify(*, user_id: int, otp: str, started_at: float) -> Authenticated:
    """The web app's code step after the directory's sign-in: the same code, throttle and
    lock-out as a password log-in's code. `started_at` (seconds since the epoch) is when the
    directory's sign-in was accepted; past OIDC_CODE_STEP_SECONDS it starts again."""
    error: DomainError | None = None
    result: Authenticated | None = None
    with transaction.atomic():
        now = clock.now()
        address = _throttle_row(_address_key(client_ip()))
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if now.timestamp() - started_at > settings.OIDC_CODE_STEP_SECONDS:
            error = Unauthorized(SSO_CODE_EXPIRED, code="sso_code_expired")
        elif user is None or not user.is_active:
            error = Unauthorized(SSO_INACTIVE, code="sso_inactive")
        else:
            throttle = _throttle_row(user.username.lower()[:150])
            error = _sso_locked(
                user=user, throttle=throttle, address=address, now=now, channel="web"
            )
            if error is None:
                device, error = _sso_code(
                    user=user, otp=otp, throttle=throttle, address=address, now=now
                )
                if error is None:
                    _sso_succeeded(
                        user=user,
                        throttle=throttle,
                        now=now,
                        detail={"channel": "web", "otp_verified": True, "second_factor": "code"},
                    )
                    result = Authenticated(user=user, device=device)
    if error is not None:
        raise error
    assert result is not None
    return result


def _sso_locked(
    *, user: User, throttle: LoginThrottle, address: LoginThrottle, now: datetime, channel: str
) -> DomainError | None:
    """The refusal of a locked account or address after the directory's sign-in (audited),
    or None."""
    state = ThrottleState(failures=throttle.failures, locked_until=throttle.locked_until)
    address_state = ThrottleState(failures=address.failures, locked_until=address.locked_until)
    if not (is_locked(address_state, now) or is_locked(state, now)):
        return None
    audit_record(
        actor=None,
        action="auth.sso_refused",
        target_type="user",
        target_id=user.pk,
        detail={"reason": "locked", "channel": channel},
    )
    return TooManyAttempts(ACCOUNT_LOCKED if is_locked(state, now) else ADDRESS_LOCKED)


def _sso_code(
    *, user: User, otp: str, throttle: LoginThrottle, address: LoginThrottle, now: datetime
) -> tuple[SealedTOTPDevice | None, DomainError | None]:
    """The service's own code after the directory's sign-in: the device it matched, or the
    refusal (a failure counted toward the lock-out, as a password log-in's code)."""
    device = _verify_otp_locked(user, otp)
    if device is not None:
        return device, None
    reused = _just_used(user, otp)
    _count_failure(
        user=user,
        throttle=throttle,
        address=address,
        now=now,
        action="auth.sso_refused",
        reason="otp_reused" if reused else "otp",
    )
    if reused:
        return None, Unauthorized(OTP_REUSED, code="otp_reused")
    return None, Unauthorized(OTP_INVALID, code="invalid_credentials")


def sso_token_exchange(
    *, claims: Mapping[str, Any], token_hash: str, otp: str | None
) -> tuple[LoginResult, SsoSignIn]:
    """The API's sign-in with a verified id_token: the same bearer token as a password
    log-in, recording whether a second factor was verified (the code, or the directory's
    trusted multi-factor sign-in)."""
    signed = sso_sign_in(claims=claims, channel="api", otp=otp, token_hash=token_hash)
    with transaction.atomic():
        raw, token = token_issue(
            user=signed.user, otp_verified=signed.mfa_by_directory or signed.device is not None
        )
    return LoginResult(raw_token=raw, token=token, user=signed.user), signed
