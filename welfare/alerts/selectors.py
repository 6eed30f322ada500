from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from welfare.alerts.models import SUPERVISOR_KINDS, Alert, Notification, UnitWebhook
from welfare.core.db import get_or_404
from welfare.core.roles import Role
from welfare.people.models import RotationReview
from welfare.people.selectors import officers_visible_to


def alerts_visible_to(user: Any) -> QuerySet[Alert]:
    """Officers: their own, except clinical ones (they are occupational health's work items:
    the officer hears from OH, not from a list). Supervisors: their units' limit, rotation and
    overdue alerts, never clinical ones. OH: all. HR and admin: none."""
    alerts = Alert.objects.all()
    if user.role == Role.OH:
        return alerts
    if user.role == Role.SUPERVISOR:
        return alerts.filter(
            officer__in=officers_visible_to(user).values("pk"),
            kind__in=SUPERVISOR_KINDS,
            clinical=False,
        )
    if user.role == Role.OFFICER:
        return alerts.filter(officer__user=user, clinical=False)
    return alerts.none()


def alert_get_for_user(user: Any, alert_id: object) -> Alert:
    return get_or_404(alerts_visible_to(user), alert_id)


def notifications_of(user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user)


def rotation_reviews_visible_to(user: Any) -> QuerySet[RotationReview]:
    reviews = RotationReview.objects.select_related("posting")
    if user.role == Role.OH:
        return reviews
    if user.role == Role.SUPERVISOR:
        return reviews.filter(posting__unit__supervisors=user)
    return reviews.none()


def webhooks_visible_to(user: Any) -> QuerySet[UnitWebhook]:
    webhooks = UnitWebhook.objects.order_by("unit_id")
    return webhooks if user.role == Role.ADMIN else webhooks.none()
