from __future__ import annotations

from django.conf import settings
from django.db import models

from welfare.alerts import rules
from welfare.core.sealed import sealed_text


class AlertKind(models.TextChoices):
    EXPOSURE_LIMIT = "exposure_limit", "Exposure limit"
    ROTATION_DUE = "rotation_due", "Rotation review due"
    CHECKIN_OVERDUE = "checkin_overdue", "Check-in overdue"
    SCREENING_RISK = "screening_risk", "Screening risk"


class Severity(models.TextChoices):
    INFO = "info", "Information"
    WARNING = "warning", "Warning"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# Kinds a supervisor may see for their units; clinical alerts are never among them.
SUPERVISOR_KINDS = (AlertKind.EXPOSURE_LIMIT, AlertKind.ROTATION_DUE, AlertKind.CHECKIN_OVERDUE)


class Alert(models.Model):
    """Something about an officer that needs a person to act. Raised once per `dedupe_key`
    (a unique constraint decides), acknowledged, then resolved with a note. Never deleted.

    `clinical` alerts (screening risk, an overdue self-referral) reach occupational health
    only. `detail` never carries screening answers, scores or notes.
    """

    officer = models.ForeignKey("people.Officer", on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    clinical = models.BooleanField(default=False)
    dedupe_key = models.CharField(max_length=160, unique=True)
    detail = models.JSONField(default=dict, blank=True)
    checkin = models.ForeignKey(
        "checkins.CheckIn", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    posting = models.ForeignKey(
        "people.Posting", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    raised_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Urgent work (a critical screening answer, a check-in escalated to occupational health)
    # must be acknowledged by this time; past it, the OH leads are told, once.
    ack_due_at = models.DateTimeField(null=True, blank=True)
    ack_escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=1000, blank=True)
    # The day(s) the alert is about: a limit's day (first and latest occurrence), a check-in's
    # due date, the date a rotation decision named. `occurrences`: how many times the problem
    # was seen while the alert was open (one per day for a limit).
    first_on = models.DateField(null=True, blank=True)
    last_on = models.DateField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1, db_default=1)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["officer", "status"], name="alert_officer_status_idx"),
            models.Index(fields=["status", "kind", "-raised_at"], name="alert_status_kind_idx"),
            models.Index(
                fields=["ack_due_at"],
                condition=models.Q(status="open", ack_escalated_at__isnull=True),
                name="alert_ack_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.kind})"

    @property
    def urgent(self) -> bool:
        return self.ack_due_at is not None

    @property
    def headline(self) -> str:
        return rules.alert_headline(self.kind, self.detail or {})

    @property
    def days(self) -> str:
        return rules.days_text(self.first_on, self.last_on, self.occurrences)


class AlertOccurrence(models.Model):
    """One sighting of an alert's problem: a limit at breach on a day. The first raises the
    alert; later ones, while the alert is not resolved, are added to it instead of raising
    new alerts. Once per `dedupe_key` (officer, rule, day); never edited or deleted. The
    triggered check-in policy counts these (dose-limit breaches that repeat)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="occurrence_rows")
    officer = models.ForeignKey("people.Officer", on_delete=models.PROTECT, related_name="+")
    dedupe_key = models.CharField(max_length=160, unique=True)
    rule = models.CharField(max_length=32)
    on = models.DateField()
    detail = models.JSONField(default=dict, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["on", "id"]
        indexes = [models.Index(fields=["officer", "on"], name="occurrence_officer_on_idx")]

    def __str__(self) -> str:
        return f"occurrence {self.pk} of alert {self.alert_id}"


class CaseOwner(models.Model):
    """The clinician who owns an officer's occupational health work: the alerts about them
    that OH must act on are theirs. Work on a case without an owner is everyone's in OH;
    any clinician may cover for another (audited). Changed in place, every change audited."""

    officer = models.OneToOneField(
        "people.Officer", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField()
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"case owner of officer {self.officer_id}"


class Notification(models.Model):
    """An in-app message to one person, also e-mailed when they have an address. Once per
    (recipient, dedupe_key). Messages never carry health data or exposure details."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications"
    )
    dedupe_key = models.CharField(max_length=160)
    subject = models.CharField(max_length=200)
    body = models.CharField(max_length=1000)
    link = models.CharField(max_length=300, blank=True)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checkin = models.ForeignKey(
        "checkins.CheckIn", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # The body is for the signed-in inbox only: the e-mail says that there is a message and
    # where, never what it says (a disclosure's legal basis, say).
    confidential = models.BooleanField(default=False, db_default=False)
    # Urgent messages are e-mailed at once whatever the recipient chose; the others wait for
    # the recipient's daily digest when they chose one (then `digested_at` is set).
    urgent = models.BooleanField(default=False, db_default=False)
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="notification_once")
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return f"notification {self.pk}"


class UnitWebhook(models.Model):
    """An outgoing webhook for a unit's team chat: JSON, signed with HMAC-SHA256."""

    unit = models.OneToOneField("people.Unit", on_delete=models.PROTECT, related_name="webhook")
    url = models.URLField(max_length=500)
    # The signing secret, sealed in the row (welfare.core.sealed).
    secret_encrypted = models.BinaryField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    secret = sealed_text("secret_encrypted", doc="The HMAC signing secret.")

    def __str__(self) -> str:
        return f"webhook for unit {self.unit_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(UnitWebhook, on_delete=models.PROTECT, related_name="deliveries")
    dedupe_key = models.CharField(max_length=160)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    # Every failed attempt, oldest first: {"attempt": n, "at": ISO time, "error": text}.
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "dedupe_key"], name="webhook_delivery_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"delivery {self.pk}"


class SweepMark(models.Model):
    """How far an incremental sweep has read (the exposure sweep's daily-total changes)."""

    name = models.CharField(max_length=64, primary_key=True)
    through = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} through {self.through}"


class EmailKind(models.TextChoices):
    NOTIFICATION = "notification", "Notification"
    DIGEST = "digest", "Daily digest"
    CONTACT = "contact", "Out-of-hours contact"


class OutboundEmail(models.Model):
    """One e-mail to send, written in the transaction that decided it (a notification, a
    digest, the out-of-hours contact told) and sent by the delivery queue after it commits:
    claimed with SKIP LOCKED, sent with no transaction open, retried with back-off. What it
    says is the e-mail-safe text (a confidential notification's "you have a message"), never
    a notification's confidential body."""

    kind = models.CharField(max_length=16, choices=EmailKind.choices)
    # Once per key: `notification:<id>`, `digest:<user>:<day>`, `contact:<why>:<instant>`.
    dedupe_key = models.CharField(max_length=160, unique=True)
    # Null for the out-of-hours contact (an address from the settings, not an account).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # The notifications it carries, marked `emailed_at` once it is sent.
    notifications = models.JSONField(default=list, blank=True)
    urgent = models.BooleanField(default=False)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    # Every failed attempt, oldest first: {"attempt": n, "at": ISO time, "error": text}.
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The claim's order (urgent first), over the pending rows only.
            models.Index(
                fields=["-urgent", "next_attempt_at", "id"],
                name="email_due_idx",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"e-mail {self.pk}"
