from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from welfare.accounts.models import GrantKind, GrantState, RoleGrant, SealedTOTPDevice, User
from welfare.core.roles import Role


def users_visible_to(user: Any) -> QuerySet[User]:
    """User accounts: administrators only."""
    if user.role != Role.ADMIN:
        return User.objects.none()
    confirmed = SealedTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    passkey = WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True)
    awaiting = RoleGrant.objects.filter(
        user=OuterRef("pk"), kind=GrantKind.OH, state=GrantState.PENDING
    )
    return User.objects.annotate(
        has_two_factor=ExpressionWrapper(
            Q(Exists(confirmed)) | Q(Exists(passkey)), output_field=BooleanField()
        ),
        awaiting_oh_approval=Exists(awaiting),
    ).order_by("username")


def otp_devices_of(user: User) -> QuerySet[SealedTOTPDevice]:
    return SealedTOTPDevice.objects.filter(user=user).order_by("pk")


def user_has_confirmed_device(user: User) -> bool:
    """A confirmed TOTP device or a passkey."""
    return (
        SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    )


def active_clinicians() -> QuerySet[User]:
    return User.objects.filter(role=Role.OH, is_active=True).order_by("username")


def role_grants_visible_to(user: Any) -> QuerySet[RoleGrant]:
    """Proposals of clinical access and of leads, newest first: every one for an OH lead
    (they decide them); an administrator's own (to learn what became of them)."""
    grants = RoleGrant.objects.select_related("user", "proposed_by", "decided_by")
    if user.role == Role.OH and user.is_oh_lead:
        return grants.order_by("-proposed_at", "-pk")
    if user.role == Role.ADMIN:
        return grants.filter(proposed_by=user).order_by("-proposed_at", "-pk")
    return grants.none()


def pending_grants() -> QuerySet[RoleGrant]:
    return (
        RoleGrant.objects.select_related("user", "proposed_by")
        .filter(state=GrantState.PENDING)
        .order_by("proposed_at", "pk")
    )
