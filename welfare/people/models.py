from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class UnitKind(models.TextChoices):
    ABUSIVE_IMAGES = "abusive_images", "Abusive images (IIOC)"
    ONLINE_CSE = "online_cse", "Online child sexual exploitation"
    DIGITAL_FORENSICS = "digital_forensics", "Digital forensics"
    OTHER = "other", "Other"


class Unit(models.Model):
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=UnitKind.choices)
    supervisors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="supervised_units"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="unit_name_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(kind__in=UnitKind.values), name="unit_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Officer(models.Model):
    """The person behind an `officer` account: staff number, name and postings."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="officer"
    )
    staff_number = models.CharField(max_length=32, unique=True)
    display_name = models.CharField(max_length=120)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return f"officer {self.pk}"


class Posting(models.Model):
    """A period in a unit. One open posting per officer; postings of one officer never overlap
    (an exclusion constraint added in the migration)."""

    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="postings")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="postings")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True)
                | models.Q(ended_on__gte=models.F("started_on")),
                name="posting_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["officer"],
                condition=models.Q(ended_on__isnull=True),
                name="posting_one_open",
            ),
        ]
        indexes = [models.Index(fields=["unit", "ended_on"], name="posting_unit_idx")]

    def __str__(self) -> str:
        return f"posting {self.pk}"
