"""Unit webhooks: queued with the alerts they announce, delivered by a sweep with back-off."""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from welfare.accounts.models import User
from welfare.alerts import rules
from welfare.alerts.models import (
    SUPERVISOR_KINDS,
    Alert,
    DeliveryStatus,
    UnitWebhook,
    WebhookDelivery,
)
from welfare.alerts.services.notifications import site_link
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.errors import DomainError
from welfare.people.models import Unit
from welfare.people.selectors import current_posting_q

log = logging.getLogger(__name__)


def queue_webhooks(alerts: Sequence[Alert], *, at: datetime | None = None) -> None:
    """Tell each unit's team chat that something needs attention (never clinical alerts):
    one query for the webhooks of all the officers' units, one insert."""
    shared = [a for a in alerts if not a.clinical and a.kind in SUPERVISOR_KINDS]
    if not shared:
        return
    now = at or clock.now()
    webhooks = UnitWebhook.objects.filter(
        current_posting_q(now.astimezone(clock.local_zone()).date(), "unit__postings__"),
        unit__postings__officer_id__any=sorted({a.officer_id for a in shared}),
        active=True,
    ).annotate(posted=F("unit__postings__officer_id"))
    by_officer: dict[int, dict[int, UnitWebhook]] = defaultdict(dict)
    for webhook in webhooks.order_by("pk"):
        by_officer[webhook.posted].setdefault(webhook.pk, webhook)
    deliveries = [
        WebhookDelivery(
            webhook=webhook,
            dedupe_key=f"alert:{alert.pk}",
            payload={
                "event": "alert.raised",
                "alert": alert.pk,
                "kind": alert.kind,
                "severity": alert.severity,
                "unit": webhook.unit_id,
                "message": rules.ALERT_BODY,
                "link": site_link(f"/alerts/{alert.pk}"),
                "raised_at": alert.raised_at.isoformat(),
            },
            next_attempt_at=now,
            created_at=now,
        )
        for alert in shared
        for webhook in by_officer.get(alert.officer_id, {}).values()
    ]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)


# --- Webhooks -------------------------------------------------------------------------------


def webhook_create(*, actor: User, unit: Unit, url: str) -> UnitWebhook:
    with transaction.atomic():
        if UnitWebhook.objects.filter(unit=unit).exists():
            raise DomainError("This unit has a webhook already.", field="unit", code="unique")
        webhook = UnitWebhook.objects.create(
            unit=unit, url=url, secret=secrets.token_hex(32), created_at=clock.now()
        )
        audit_record(actor=actor, action="webhook.created", target_type="unit", target_id=unit.pk)
    return webhook


def webhook_delivery_sweep(*, at: datetime, timeout: float = 5.0) -> rules.SweepReport:
    """Send due webhook deliveries; failures back off (1, 2, 4 ... minutes) and are recorded,
    and a delivery is given up after the configured number of attempts."""
    sent = 0
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=at)
    for delivery in due.select_related("webhook").order_by("next_attempt_at", "id")[:500]:
        body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
        stamp = str(int(at.timestamp()))
        request = urllib.request.Request(  # noqa: S310 - an admin-configured https/http URL
            delivery.webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "welfare-service",
                "X-Welfare-Timestamp": stamp,
                "X-Welfare-Signature": "sha256="
                + rules.signature(delivery.webhook.secret, body, stamp),
                "X-Welfare-Delivery": str(delivery.pk),
            },
        )
        delivery.attempts += 1
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                ok = 200 <= response.status < 300
                error = "" if ok else f"HTTP {response.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            ok, error = False, type(exc).__name__ + ": " + str(exc)[:200]
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = at
            delivery.last_error = ""
            sent += 1
        else:
            delivery.last_error = error[:300]
            if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.next_attempt_at = at + rules.retry_after(delivery.attempts)
        delivery.save(
            update_fields=["status", "attempts", "next_attempt_at", "last_error", "delivered_at"]
        )
    return rules.SweepReport(notified=sent)


def webhook_update(*, actor: User, webhook: UnitWebhook, changes: Mapping[str, Any]) -> UnitWebhook:
    changed = [
        name
        for name in ("url", "active")
        if name in changes and changes[name] != getattr(webhook, name)
    ]
    if changed:
        with transaction.atomic():
            for name in changed:
                setattr(webhook, name, changes[name])
            webhook.save(update_fields=changed)
            audit_record(
                actor=actor,
                action="webhook.updated",
                target_type="unit",
                target_id=webhook.unit_id,
                detail={"changed": changed},
            )
    return webhook
