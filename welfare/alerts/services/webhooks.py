"""Unit webhooks: queued with the alerts they announce, delivered by a sweep with back-off.

A webhook goes only where the policy in `rules.webhook_target` and `rules.addresses_refusal`
allows (https to public addresses; http and internal addresses only for hosts on the
operator's allow-list), checked when it is set and again at every send, and the connection
goes to the very address that was checked. Redirects are never followed. Each delivery is
claimed in a short transaction of its own (`FOR UPDATE SKIP LOCKED`), sent with no
transaction open, and its outcome committed on its own.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import socket
import ssl
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
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
from welfare.core.db import next_id
from welfare.core.errors import DomainError
from welfare.core.sealed import Resealed, reseal_table
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


# --- Where a webhook may go -----------------------------------------------------------------

Resolver = Callable[[str, int], list[str]]
Sender = Callable[[rules.WebhookTarget, Sequence[str], bytes, Mapping[str, str], float], int]

UNSAFE_URL = "unsafe_url"
MAX_ERRORS_KEPT = 50
# A claimed delivery is not due again for this long, so a second sweep does not send it while
# the first is; should the sender die mid-send it is retried after it (at least once).
CLAIM_LEASE = timedelta(minutes=5)
DELIVERIES_PER_SWEEP = 500


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host resolves to, in the resolver's order; an IP literal is itself,
    and a name that does not resolve has none."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _connect_any(addresses: Sequence[str], port: int, timeout: float | None) -> socket.socket:
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the addresses that were checked, never resolving the name again (no DNS
    rebinding between the check and the connection); the Host header names the host."""

    def __init__(self, host: str, port: int, *, addresses: Sequence[str], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect_any(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS whose SNI and certificate check use the host name."""

    def __init__(self, host: str, port: int, *, addresses: Sequence[str], timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses

    def connect(self) -> None:
        raw = _connect_any(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def send_post(
    target: rules.WebhookTarget,
    addresses: Sequence[str],
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> int:
    """POST the body to the target at one of the checked addresses; the response status.
    http.client follows no redirects: a 3xx is returned like any other status."""
    pinned = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = pinned(target.host, target.port, addresses=addresses, timeout=timeout)
    try:
        connection.request(
            "POST", target.path, body=body, headers={"Host": target.host_header, **headers}
        )
        return connection.getresponse().status
    finally:
        connection.close()


def webhook_url_check(url: str, *, resolve: Resolver | None = None) -> rules.WebhookTarget:
    """The URL's target if the policy allows it now, else a DomainError on `url`."""
    try:
        target = rules.webhook_target(url, settings.WEBHOOK_HTTP_ALLOWED_HOSTS)
    except rules.WebhookRefused as exc:
        raise DomainError(str(exc), field="url", code=UNSAFE_URL) from None
    if not target.trusted:
        refusal = rules.addresses_refusal((resolve or resolve_host)(target.host, target.port))
        if refusal:
            raise DomainError(refusal, field="url", code=UNSAFE_URL)
    return target


# --- Webhooks -------------------------------------------------------------------------------


def webhook_create(*, actor: User, unit: Unit, url: str) -> UnitWebhook:
    webhook_url_check(url)  # before the transaction: it may wait on DNS
    with transaction.atomic():
        if UnitWebhook.objects.filter(unit=unit).exists():
            raise DomainError("This unit has a webhook already.", field="unit", code="unique")
        webhook = UnitWebhook(
            id=next_id(UnitWebhook),  # the secret is sealed bound to the row's id
            unit=unit,
            url=url,
            created_at=clock.now(),
        )
        webhook.secret = secrets.token_hex(32)
        webhook.save(force_insert=True)
        audit_record(actor=actor, action="webhook.created", target_type="unit", target_id=unit.pk)
    return webhook


def _claim(at: datetime) -> WebhookDelivery | None:
    """The next due delivery, taken in a short transaction of its own: locked with SKIP LOCKED
    (a concurrent sweep takes the next one), its attempt counted and its next attempt moved
    past the lease, so that it is not due to anyone else once the lock is released."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=at)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is not None:
            delivery.attempts += 1
            delivery.next_attempt_at = at + CLAIM_LEASE
            delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def _attempt(
    delivery: WebhookDelivery, *, at: datetime, timeout: float, resolve: Resolver, send: Sender
) -> str:
    """Send one delivery, the policy checked again (DNS may have changed since the webhook was
    set); "" when it was delivered, else what went wrong."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    stamp = str(int(at.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "welfare-service",
        "X-Welfare-Timestamp": stamp,
        "X-Welfare-Signature": "sha256=" + rules.signature(delivery.webhook.secret, body, stamp),
        "X-Welfare-Delivery": str(delivery.pk),
    }
    try:
        target = rules.webhook_target(delivery.webhook.url, settings.WEBHOOK_HTTP_ALLOWED_HOSTS)
        addresses = resolve(target.host, target.port)
        refusal = rules.addresses_refusal(addresses) if not target.trusted else None
        if refusal or not addresses:
            return "Refused: " + (refusal or rules.WEBHOOK_UNRESOLVED)
        status = send(target, addresses, body, headers, timeout)
    except rules.WebhookRefused as exc:
        return f"Refused: {exc}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return type(exc).__name__ + ": " + str(exc)[:200]
    if 300 <= status < 400:
        return rules.WEBHOOK_REDIRECT_REFUSED.format(status=status)
    return "" if 200 <= status < 300 else f"HTTP {status}"


def _record_outcome(delivery: WebhookDelivery, *, at: datetime, error: str) -> None:
    """Commit one attempt's outcome on its own; a failure joins the delivery's history."""
    if not error:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = at
        delivery.last_error = ""
    else:
        delivery.last_error = error[:300]
        entry = {"attempt": delivery.attempts, "at": at.isoformat(), "error": error[:300]}
        delivery.errors = [*delivery.errors, entry][-MAX_ERRORS_KEPT:]
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = at + rules.retry_after(delivery.attempts)
    with transaction.atomic():
        delivery.save(
            update_fields=["status", "next_attempt_at", "last_error", "errors", "delivered_at"]
        )


def webhook_delivery_sweep(
    *,
    at: datetime,
    timeout: float = 5.0,
    resolve: Resolver | None = None,
    send: Sender | None = None,
) -> rules.SweepReport:
    """Send due webhook deliveries, one at a time: claimed, sent with no transaction open
    (the scheduler runs this job outside its job transaction), outcome committed. Failures
    back off (1, 2, 4 ... minutes) and are kept, and a delivery is given up after the
    configured number of attempts."""
    resolve, send = resolve or resolve_host, send or send_post
    sent = 0
    for _ in range(DELIVERIES_PER_SWEEP):
        delivery = _claim(at)
        if delivery is None:
            break
        error = _attempt(delivery, at=at, timeout=timeout, resolve=resolve, send=send)
        if error:
            log.info("webhook delivery %s failed (attempt %s)", delivery.pk, delivery.attempts)
        _record_outcome(delivery, at=at, error=error)
        sent += not error
    return rules.SweepReport(notified=sent)


def webhook_update(*, actor: User, webhook: UnitWebhook, changes: Mapping[str, Any]) -> UnitWebhook:
    changed = [
        name
        for name in ("url", "active")
        if name in changes and changes[name] != getattr(webhook, name)
    ]
    if "url" in changed:
        webhook_url_check(changes["url"])
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


def webhooks_reseal(*, batch: int = 500) -> dict[str, Resealed]:
    """Key rotation: every webhook's signing secret under the current key."""
    return {
        UnitWebhook._meta.db_table: reseal_table(UnitWebhook, ("secret_encrypted",), batch=batch)
    }
