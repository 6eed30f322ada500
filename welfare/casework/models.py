from __future__ import annotations

from django.conf import settings
from django.db import models

from welfare.checkins.models import Outcome


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
    adjustments = models.CharField(max_length=2000, blank=True)
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

    def __str__(self) -> str:
        return f"management report {self.pk}"
