from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from welfare.accounts.models import SealedTOTPDevice, User
from welfare.core.roles import Role


def users_visible_to(user: Any) -> QuerySet[User]:
    """User accounts: administrators only."""
    if user.role != Role.ADMIN:
        return User.objects.none()
    confirmed = SealedTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return User.objects.annotate(has_two_factor=Exists(confirmed)).order_by("username")


def otp_devices_of(user: User) -> QuerySet[SealedTOTPDevice]:
    return SealedTOTPDevice.objects.filter(user=user).order_by("pk")


def user_has_confirmed_device(user: User) -> bool:
    return SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
