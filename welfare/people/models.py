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
    # The id of the unit's group in the force's directory (Entra ID's group object id): SCIM
    # provisioning posts the group's members to this unit. Empty: not provisioned.
    directory_group = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="unit_name_unique_ci"),
            models.CheckConstraint(
                condition=~models.Q(directory_group=""), name="unit_directory_group_not_blank"
            ),
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
    staff_number = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=120)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["display_name", "id"]
        # Lists in that order (OH's case list past the officers with open work) read a page
        # of the index, not a sort of the force.
        indexes = [models.Index(fields=["display_name", "id"], name="officer_name_idx")]

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


class RotationPolicy(models.Model):
    """When time in post asks for a rotation review, per kind of unit (DOMAIN.md: review at
    21 months, escalated at 24). No source sets a maximum tenure: the alert asks for a
    decision, it never moves anyone."""

    unit_kind = models.CharField(max_length=32, choices=UnitKind.choices, unique=True)
    review_months = models.PositiveSmallIntegerField()
    tenure_months = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["unit_kind"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tenure_months__gte=models.F("review_months")),
                name="rotation_tenure_after_review",
            )
        ]

    def __str__(self) -> str:
        return f"rotation policy for {self.unit_kind}"


class RotationDecision(models.TextChoices):
    STAY = "stay", "Stay, review again later"
    ROTATE = "rotate", "Rotate out by a date"


class RotationReview(models.Model):
    """A supervisor's or clinician's decision on a rotation review. Never edited."""

    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="rotation_reviews")
    decision = models.CharField(max_length=8, choices=RotationDecision.choices)
    next_review_on = models.DateField(null=True, blank=True)
    rotate_by = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(decision="stay") & models.Q(next_review_on__isnull=False))
                | (models.Q(decision="rotate") & models.Q(rotate_by__isnull=False)),
                name="rotation_review_has_date",
            )
        ]

    def __str__(self) -> str:
        return f"rotation review {self.pk}"
