from __future__ import annotations

from django.conf import settings
from django.db import models

from welfare.checkins.models import Outcome
from welfare.core.sealed import sealed_text


class CaseNote(models.Model):
    """An OH clinician's note on an officer's case. The body is encrypted at rest and is never
    returned by any non-OH endpoint. Never edited: an addendum supersedes it."""

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="case_notes"
    )
    body_encrypted = models.BinaryField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"case note {self.pk}"


class ReportState(models.TextChoices):
    DRAFT = "draft", "Draft (OH only)"
    OFFERED = "offered", "Offered to the officer"
    CONSENTED = "consented", "Released with consent"
    DECLINED = "declined", "Declined by the officer"
    WITHDRAWN = "withdrawn", "Consent withdrawn"
    DISCLOSED = "disclosed", "Disclosed without consent"


MANAGEMENT_VISIBLE = (ReportState.CONSENTED, ReportState.DISCLOSED)


class ManagementReport(models.Model):
    """What management may be told: fitness and adjustments in operational words, never the
    diagnosis. The officer reads it first and consents or declines; consent can be withdrawn.
    Disclosure without consent is a separate step that needs a legal basis."""

    officer = models.ForeignKey("people.Officer", on_delete=models.PROTECT, related_name="reports")
    checkin = models.ForeignKey(
        "checkins.CheckIn", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    fitness = models.CharField(max_length=24, choices=Outcome.choices)
    # Adjustments in operational words, sealed in the row (welfare.core.sealed).
    adjustments_encrypted = models.BinaryField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=ReportState.choices, default=ReportState.DRAFT)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drafted_at = models.DateTimeField()
    offered_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    disclosed_at = models.DateTimeField(null=True, blank=True)
    disclosed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    legal_basis = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-drafted_at", "-id"]

    adjustments = sealed_text("adjustments_encrypted", doc="Adjustments, operational words.")

    def __str__(self) -> str:
        return f"management report {self.pk}"


class SupportContact(models.Model):
    """Where an officer can get help now: shown on the "get help now" page and with every
    screening answer that carries a critical flag. Set by administrators (a force's own
    employee assistance line and OH duty number); the national lines come as defaults."""

    name = models.CharField(max_length=100)
    how = models.CharField(
        max_length=200,
        help_text='How to reach them, e.g. "Call 116 123" or "Text BLUELIGHT to 85258".',
    )
    phone = models.CharField(
        max_length=32,
        blank=True,
        help_text="The number to dial, digits only (for a tap-to-call link), for a phone line.",
    )
    hours = models.CharField(
        max_length=100, blank=True, help_text="When, e.g. 24 hours, every day."
    )
    note = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=100, help_text="Lower comes first.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone__regex=r"^[0-9]*$"), name="support_phone_digits"
            )
        ]

    def __str__(self) -> str:
        return self.name
