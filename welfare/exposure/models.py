from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from welfare.core.sealed import sealed_text


class Material(models.TextChoices):
    IMAGE = "image", "Images"
    VIDEO = "video", "Video"
    VIDEO_WITH_AUDIO = "video_with_audio", "Video with audio"
    AUDIO = "audio", "Audio"
    TEXT = "text", "Text"
    LIVE = "live", "Live stream"


class Category(models.TextChoices):
    A = "A", "Category A"
    B = "B", "Category B"
    C = "C", "Category C"
    NONE = "none", "Not indecent"
    UNKNOWN = "unknown", "Not graded"


class Activity(models.TextChoices):
    GRADING = "grading", "Grading"
    INVESTIGATION = "investigation", "Investigation"
    VICTIM_IDENTIFICATION = "victim_identification", "Victim identification"
    INTERVIEW_REVIEW = "interview_review", "Interview review"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    SELF = "self", "Logged by the officer"
    IMPORT = "import", "Imported from a review tool"


class SessionState(models.TextChoices):
    CURRENT = "current", "Current"
    SUPERSEDED = "superseded", "Superseded by an amendment"
    VOID = "void", "Void"


class ExposureSession(models.Model):
    """One version of one viewing session. Never edited or deleted: an amendment adds a new
    version (same `lineage`) and marks this one superseded; a void marks it void.

    Only the medium and category of what was seen are stored, never the material or any
    description of it. PostgreSQL refuses overlapping current sessions of one officer
    (an exclusion constraint added in the migration).
    """

    # No index of its own: exposure_officer_time_idx (officer, state, started_at) serves
    # every read by officer, and with a lone officer index the planner read an officer's
    # whole history to find a day's sessions (the daily totals' upsert, on every log);
    # one index fewer to write on every insert, too.
    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="exposures", db_index=False
    )
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    version = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(
        max_length=12, choices=SessionState.choices, default=SessionState.CURRENT
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    material = models.CharField(max_length=20, choices=Material.choices)
    category = models.CharField(max_length=8, choices=Category.choices)
    violent = models.BooleanField(default=False)
    items_reviewed = models.PositiveIntegerField(null=True, blank=True)
    activity = models.CharField(max_length=24, choices=Activity.choices, blank=True)
    note = models.CharField(max_length=280, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.SELF)
    client_ref = models.UUIDField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(
        max_length=280, blank=True, help_text="Why this version was made (amendments)."
    )
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When this version was superseded or voided."
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.CharField(max_length=280, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["officer", "client_ref"],
                condition=models.Q(client_ref__isnull=False),
                name="exposure_client_ref_unique",
            ),
            models.UniqueConstraint(fields=["lineage", "version"], name="exposure_lineage_version"),
            models.CheckConstraint(
                condition=models.Q(ended_at__gt=models.F("started_at")),
                name="exposure_ends_after_start",
            ),
            models.CheckConstraint(
                # The contract's ceiling; the service may enforce a shorter configured maximum.
                condition=models.Q(ended_at__lte=models.F("started_at") + timedelta(hours=24)),
                name="exposure_at_most_a_day",
            ),
        ]
        indexes = [
            models.Index(
                fields=["officer", "state", "started_at"], name="exposure_officer_time_idx"
            ),
            models.Index(fields=["lineage"], name="exposure_lineage_idx"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} v{self.version}"


class ViewingSums(models.Model):
    """The seconds a total adds up: all, weighted, violent, per medium and per category."""

    seconds = models.BigIntegerField(default=0)
    weighted_seconds = models.FloatField(default=0)
    violent_seconds = models.BigIntegerField(default=0)
    image_seconds = models.BigIntegerField(default=0)
    video_seconds = models.BigIntegerField(default=0)
    video_with_audio_seconds = models.BigIntegerField(default=0)
    audio_seconds = models.BigIntegerField(default=0)
    text_seconds = models.BigIntegerField(default=0)
    live_seconds = models.BigIntegerField(default=0)
    category_a_seconds = models.BigIntegerField(default=0)
    category_b_seconds = models.BigIntegerField(default=0)
    category_c_seconds = models.BigIntegerField(default=0)
    category_none_seconds = models.BigIntegerField(default=0)
    category_unknown_seconds = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class DailyTotal(ViewingSums):
    """Per officer per local day (the force's time zone): what the current sessions add up to.

    Derived from sessions in the same transaction as every log, amendment, void and import,
    so reading a person's state never scans their sessions. Seconds, not minutes, so that
    sums stay exact; a session across midnight counts on each day for its part.
    """

    # No index of its own: the unique (officer, day) index serves every read by officer, and a
    # lone officer index tempts the planner to read whole histories and filter days after.
    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="daily_totals", db_index=False
    )
    day = models.DateField()
    sessions = models.PositiveIntegerField(default=0)
    first_start = models.DateTimeField(null=True, blank=True)
    last_end = models.DateTimeField(null=True, blank=True)
    spans = ArrayField(
        ArrayField(models.FloatField(), size=2),
        default=list,
        blank=True,
        help_text="The day's viewing as [start, end] seconds after local midnight, in order: "
        "enough for the break rule without reading sessions.",
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["officer", "day"], name="daily_total_unique")
        ]
        indexes = [
            # The sweep's "what changed since the mark", answered from the index alone.
            models.Index(
                fields=["updated_at"],
                include=["officer", "day"],
                name="daily_total_updated_idx",
            ),
            # Limits, team views and statistics read a range of days across officers.
            models.Index(fields=["day"], name="daily_total_day_idx"),
        ]

    def __str__(self) -> str:
        return f"daily total {self.officer_id} {self.day}"


class WeeklyTotal(models.Model):
    """Per officer per week (Monday to Sunday, local days): the seconds of its daily totals.

    Kept by the same statement as the daily totals, so the statistics' share of person-weeks
    over the weekly limit reads one narrow row per week instead of seven wide ones.
    """

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="weekly_totals", db_index=False
    )
    week = models.DateField(help_text="The Monday the week starts on.")
    seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["officer", "week"], name="weekly_total_unique")
        ]

    def __str__(self) -> str:
        return f"weekly total {self.officer_id} {self.week}"


class MonthlyTotal(ViewingSums):
    """Per officer per local month: the sums of its daily totals that the statistics read.

    Kept by the same statement as the daily totals, so the HR exposure table reads one row
    per person-month instead of a row per viewing day.
    """

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="monthly_totals", db_index=False
    )
    month = models.DateField(help_text="The first day of the month.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["officer", "month"], name="monthly_total_unique")
        ]

    def __str__(self) -> str:
        return f"monthly total {self.officer_id} {self.month}"


MEDIUM_COLUMNS = {m: f"{m}_seconds" for m in Material.values}
CATEGORY_COLUMNS = {c: f"category_{c.lower()}_seconds" for c in Category.values}
# The sums a month keeps of its days (what the statistics add up).
MONTHLY_COLUMNS = tuple(f.column for f in ViewingSums._meta.local_fields)


class ExposurePolicy(models.Model):
    """Exposure rules as data, in layers: the force default (one row), unit overrides.

    Empty fields in an override inherit the force value. Officer restrictions are
    `Restriction` rows. Weights live on the force row only: daily totals store the
    weighted index computed with them, and are rebuilt when they change.
    """

    unit = models.OneToOneField(
        "people.Unit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exposure_policy",
    )
    daily_minutes = models.PositiveIntegerField(null=True, blank=True)
    week_minutes = models.PositiveIntegerField(null=True, blank=True)
    rolling_28d_minutes = models.PositiveIntegerField(null=True, blank=True)
    daily_index = models.FloatField(null=True, blank=True)
    week_index = models.FloatField(null=True, blank=True)
    rolling_28d_index = models.FloatField(null=True, blank=True)
    break_after_minutes = models.PositiveIntegerField(null=True, blank=True)
    break_minutes = models.PositiveIntegerField(null=True, blank=True)
    latest_end = models.TimeField(null=True, blank=True)
    max_consecutive_days = models.PositiveIntegerField(null=True, blank=True)
    warning_ratio = models.FloatField(null=True, blank=True)
    weights = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit"], name="exposure_policy_one_per_unit", nulls_distinct=False
            ),
            models.CheckConstraint(
                condition=models.Q(unit__isnull=False) | models.Q(weights__isnull=False),
                name="exposure_policy_force_has_weights",
            ),
            models.CheckConstraint(
                condition=models.Q(unit__isnull=True) | models.Q(weights__isnull=True),
                name="exposure_policy_weights_force_only",
            ),
        ]

    def __str__(self) -> str:
        return f"exposure policy {'unit ' + str(self.unit_id) if self.unit_id else 'force'}"


class Restriction(models.Model):
    """An OH-set restriction for one officer ("no video for 4 weeks", "max 2 h a day until
    1 March"). Supervisors and the officer see it as a limit; only OH sees the reason."""

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="restrictions"
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last day it applies.")
    daily_minutes = models.PositiveIntegerField(null=True, blank=True)
    week_minutes = models.PositiveIntegerField(null=True, blank=True)
    forbidden_media = ArrayField(
        models.CharField(max_length=20, choices=Material.choices), default=list, blank=True
    )
    # The clinical reason (OH only), sealed in the row (welfare.core.sealed).
    reason_encrypted = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="restriction_ends_after_start",
            ),
        ]

    reason = sealed_text("reason_encrypted", doc="The clinical reason: OH only.")

    def __str__(self) -> str:
        return f"restriction {self.pk}"
