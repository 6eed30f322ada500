from __future__ import annotations

import base64
from binascii import unhexlify
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import IntegrityError, models, transaction
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from welfare.accounts import rules
from welfare.core import clock, crypto
from welfare.core.db import reserve_id
from welfare.core.roles import TWO_FACTOR_ROLES, Role


class UserManager(DjangoUserManager["User"]):
    def create_superuser(  # type: ignore[override]
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        # A superuser is an administrator: it manages the service, it is not a clinician.
        extra["role"] = Role.ADMIN
        return super().create_superuser(username, email, password, **extra)


class NotifyBy(models.TextChoices):
    """How non-urgent notifications reach a supervisor or clinician by e-mail."""

    DIGEST = "digest", "One summary a day"
    IMMEDIATE = "immediate", "Each one at once"


class User(AbstractUser):
    """A person who signs in. Never deleted: deactivated (`is_active=False`)."""

    role = models.CharField(max_length=16, choices=Role.choices)
    is_oh_lead = models.BooleanField(
        default=False,
        db_default=False,
        help_text="An occupational health lead: told when urgent work is not acknowledged in "
        "time. Granted by another lead, never by an administrator.",
    )
    # Chosen by supervisors and clinicians themselves (DIGEST_ROLES); urgent notifications,
    # and everyone else's, are e-mailed at once whatever this says.
    notify_by = models.CharField(
        max_length=12,
        choices=NotifyBy.choices,
        default=NotifyBy.DIGEST,
        db_default=NotifyBy.DIGEST,
    )
    # The last local day a digest was e-mailed (claimed before sending, given back if the
    # sending fails): one digest a day at most, whenever and however often the job runs.
    digest_sent_on = models.DateField(null=True, blank=True)
    # Set by an OH lead's recovery (and by the approval of a clinician's account): the
    # temporary password the lead handed over serves only to choose a new one.
    password_must_change = models.BooleanField(default=False, db_default=False)
    # The language of the pages, chosen by the person (forces in Wales work bilingually).
    language = models.CharField(
        max_length=8,
        choices=[("en-gb", "English"), ("cy", "Cymraeg")],
        default="en-gb",
        db_default="en-gb",
    )

    # The person's stable id in the force's directory (Entra ID's object id, an ADFS
    # subject): what single sign-on and SCIM provisioning match on, never the e-mail.
    # Empty for accounts made by hand; unique when set.
    directory_id = models.CharField(max_length=255, null=True, blank=True, unique=True)

    objects = UserManager()  # type: ignore[misc]

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="user_role_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_superuser=True) | models.Q(role=Role.ADMIN),
                name="superuser_is_admin",
            ),
            models.CheckConstraint(
                condition=models.Q(is_oh_lead=False) | models.Q(role=Role.OH),
                name="oh_lead_is_oh",
            ),
            models.CheckConstraint(
                condition=models.Q(notify_by__in=NotifyBy.values), name="user_notify_by_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(directory_id=""), name="user_directory_id_not_blank"
            ),
        ]

    @property
    def needs_two_factor(self) -> bool:
        """By the account's role, whatever hat the person is served in."""
        return self.__dict__.get("account_role", self.role) in TWO_FACTOR_ROLES

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A person served in another hat (welfare.core.permissions.wearing) is a copy whose
        # `role` is the hat: what is saved is always the account's own role.
        hat, account_role = self.role, self.__dict__.get("account_role") or self.role
        self.role = account_role
        try:
            super().save(*args, **kwargs)
        finally:
            self.role = hat


class AuthToken(models.Model):
    """An opaque bearer token, stored only as its SHA-256."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tokens")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="Absolute end of life, whatever the activity.")
    otp_verified = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="token_user_live_idx")]

    def __str__(self) -> str:
        return f"token {self.pk} of user {self.user_id}"


class LoginThrottle(models.Model):
    """Consecutive failed log-ins per user name (known or not), whatever the address."""

    username = models.CharField(max_length=150, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"throttle {self.username}"


class SsoTokenUse(models.Model):
    """An id_token exchanged for a bearer token (POST /api/v1/auth/sso), kept as its SHA-256
    until it expires: the same id_token is accepted once, so one read from a log or a
    proxy cannot be replayed for more sessions."""

    token_hash = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    used_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"id_token used by user {self.user_id}"


class GrantKind(models.TextChoices):
    OH = "oh", "Occupational health clinician"
    OH_LEAD = "oh_lead", "Occupational health lead"


class GrantState(models.TextChoices):
    PENDING = "pending", "Awaiting an OH lead"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


DECIDED_STATES = (GrantState.APPROVED, GrantState.DECLINED)


class RoleGrant(models.Model):
    """A proposal to give someone clinical access (`oh`) or make a clinician an OH lead: it
    takes effect only when an OH lead other than the proposer and the subject approves it.
    Never deleted; only its decision is written once."""

    kind = models.CharField(max_length=8, choices=GrantKind.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="role_grants")
    state = models.CharField(max_length=10, choices=GrantState.choices, default=GrantState.PENDING)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=GrantKind.values), name="rolegrant_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=GrantState.values), name="rolegrant_state_valid"
            ),
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=models.Q(state=GrantState.PENDING),
                name="rolegrant_one_pending",
            ),
            # Two people: a decision is nobody's own proposal, nor about themselves.
            models.CheckConstraint(
                condition=~models.Q(state__in=DECIDED_STATES)
                | (
                    models.Q(decided_by__isnull=False, decided_at__isnull=False)
                    & ~models.Q(decided_by=models.F("proposed_by"))
                    & ~models.Q(decided_by=models.F("user"))
                ),
                name="rolegrant_two_people",
            ),
            models.CheckConstraint(
                condition=~models.Q(proposed_by=models.F("user")),
                name="rolegrant_not_self_proposed",
            ),
        ]
        indexes = [models.Index(fields=["state", "-proposed_at"], name="rolegrant_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} grant {self.pk} for user {self.user_id} ({self.state})"


# A sealed TOTP seed as kept in the device's `key` column: this prefix, then the crypto token
# (the 20 seed bytes sealed in 53) in url-safe base64: 79 characters; the column holds 80.
SEALED_SEED_PREFIX = "sealed:"


class UnreadableSeed(ValueError):
    """A device's seed cannot be read: the key that sealed it is gone, or it was altered,
    copied from another device, or written in clear behind the service's back."""


class SealedTOTPDevice(TOTPDevice):
    """A TOTP device whose seed is sealed in its `key` column (AES-256-GCM bound to the row,
    `welfare.core.crypto`) instead of kept as clear hex. Create one with `seed=<hex>`; the
    QR code, the set-up key and verification read it through `bin_key`. A seed that cannot
    be read (or a clear one) verifies no code at all."""

    class Meta:
        proxy = True
        verbose_name = "TOTP device"

    @property
    def seed(self) -> str:
        """The seed as hex; raises UnreadableSeed."""
        return _unseal_seed(self.key or "", device_id=self.pk).hex()

    @seed.setter
    def seed(self, seed_hex: str) -> None:
        self.key = seal_seed(seed_hex, device_id=reserve_id(self))

    @property
    def bin_key(self) -> bytes:
        return _unseal_seed(self.key or "", device_id=self.pk)

    def step_now(self) -> int:
        """The current time step, on the service's clock."""
        return int((clock.now().timestamp() - self.t0) // self.step)

    def _code_at(self, key: bytes) -> Callable[[int], int]:
        return lambda step: int(hotp(key, step, self.digits))

    def _used_steps(self, now_step: int) -> set[int]:
        window = rules.totp_steps_to_try(now_step)
        return set(
            TOTPStepUsed.objects.filter(
                device_id=self.pk, step__gte=min(window), step__lte=max(window)
            ).values_list("step", flat=True)
        )

    def verify_token(self, token: Any) -> bool:
        """Whether `token` is a code of this device not used before: its own step or one
        either side, never more (no drift), each step's code once (the steps used are kept
        in TOTPStepUsed, not as one mark, so a code from the step ahead never refuses the
        current one). A wrong code counts against the device's throttle. Callers lock the
        device row; the unique step is the last word for one that did not."""
        try:
            key = self.bin_key
        except UnreadableSeed:
            return False
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        now_step = self.step_now()
        step = rules.totp_accepted_step(
            str(token), now_step=now_step, code_at=self._code_at(key),
            used=self._used_steps(now_step),
        )  # fmt: skip
        if step is not None:
            try:
                with transaction.atomic():
                    TOTPStepUsed.objects.create(device_id=self.pk, step=step)
            except IntegrityError:  # accepted a moment ago by a writer without the lock
                step = None
        if step is None:
            self.throttle_increment(commit=True)
            return False
        # Steps before the window can never be tried again: forget them.
        TOTPStepUsed.objects.filter(
            device_id=self.pk, step__lt=min(rules.totp_steps_to_try(now_step))
        ).delete()
        last = int(getattr(self, "last_t", -1))  # django-otp declares it untyped
        self.last_t = max(last, step)
        self.drift = 0
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def was_used(self, token: str) -> bool:
        """Whether `token` is a code this device accepted already, within the window."""
        try:
            key = self.bin_key
        except UnreadableSeed:
            return False
        now_step = self.step_now()
        used = self._used_steps(now_step)
        found = rules.totp_reused_step(
            token, now_step=now_step, code_at=self._code_at(key), used=used
        )
        return found is not None


class TOTPStepUsed(models.Model):
    """A time step whose code a TOTP device accepted (each code once, RFC 6238 5.2). Only
    the steps still inside the window are kept: a code's own step and one either side."""

    device = models.ForeignKey(TOTPDevice, on_delete=models.CASCADE, related_name="+")
    step = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "step"], name="totp_step_used_once")
        ]

    def __str__(self) -> str:
        return f"device {self.device_id} step {self.step}"


def seed_binding(device_id: int) -> bytes:
    return crypto.aad("otp_totp_totpdevice", "key", device_id)


def seal_seed(seed_hex: str, *, device_id: int) -> str:
    """A hex seed sealed for the `key` column of device `device_id`."""
    token = crypto.seal_bytes(unhexlify(seed_hex.encode()), bound_to=seed_binding(device_id))
    key = SEALED_SEED_PREFIX + base64.urlsafe_b64encode(token).decode()
    if len(key) > TOTPDevice._meta.get_field("key").max_length:  # type: ignore[union-attr]
        raise ValueError("A TOTP seed this long does not fit the key column sealed.")
    return key


def _token(key: str, device_id: int | None) -> bytes:
    if not key.startswith(SEALED_SEED_PREFIX) or device_id is None:
        raise UnreadableSeed(device_id)
    try:
        return base64.urlsafe_b64decode(key[len(SEALED_SEED_PREFIX) :].encode())
    except ValueError:
        raise UnreadableSeed(device_id) from None


def _unseal_seed(key: str, *, device_id: int | None) -> bytes:
    seed = crypto.unseal_bytes(_token(key, device_id), bound_to=seed_binding(device_id or 0))
    if seed is None:
        raise UnreadableSeed(device_id)
    return seed


def reseal_seed(key: str, *, device_id: int) -> str | None:
    """The `key` column's seed sealed under the current key; None when it is current
    already. A clear hex seed (written before sealing) is sealed; UnreadableSeed when no
    configured key reads it."""
    if not key.startswith(SEALED_SEED_PREFIX) and _is_hex(key):
        return seal_seed(key, device_id=device_id)
    token = _token(key, device_id)
    if crypto.is_current(token):
        return None
    resealed = crypto.reseal_bytes(token, bound_to=seed_binding(device_id))
    if resealed is None:
        raise UnreadableSeed(device_id)
    return SEALED_SEED_PREFIX + base64.urlsafe_b64encode(resealed).decode()


def _is_hex(text: str) -> bool:
    try:
        unhexlify(text.encode())
    except ValueError:
        return False
    return bool(text)
