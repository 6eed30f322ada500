from __future__ import annotations

from django.conf import settings
from django.db import models

from welfare.core.sealed import sealed_text
from welfare.people.models import UnitKind


class Kind(models.TextChoices):
    PRE_POSTING = "pre_posting", "Pre-posting (baseline)"
    PERIODIC = "periodic", "Periodic"
    TRIGGERED = "triggered", "Triggered"
    EXIT = "exit", "Exit"
    SELF_REFERRAL = "self_referral", "Self-referral"
    INCIDENT_FOLLOW_UP = "incident_follow_up", "Incident follow-up"
    CONTACT = "contact", "Regular contact"


class IncidentCategory(models.TextChoices):
    """What made a piece of work especially distressing: a category from this fixed list and
    nothing else (the service never holds a description of material or of a case)."""

    SEVERE_MATERIAL = "severe_material", "Material of unusual severity"
    LIVE_ABUSE = "live_abuse", "Live or ongoing abuse"
    VICTIM_CONTACT = "victim_contact", "Contact with a victim or their family"
    DEATH_OR_INJURY = "death_or_injury", "A death or serious injury"
    PERSONAL_RESONANCE = "personal_resonance", "Close to the person's own life"
    OTHER = "other", "Other"


class Incident(models.Model):
    """A piece of work an officer or their supervisor recorded as especially distressing
    (TRiM-style). It schedules follow-up contacts (72 hours and 4 weeks by default), tracked
    as check-ins. Holds a date and a category only. Never deleted or edited."""

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="incidents"
    )
    occurred_on = models.DateField()
    category = models.CharField(max_length=24, choices=IncidentCategory.choices)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    # A UUID the client makes once per incident: the same one again is a retry, and gives
    # back the stored incident instead of a second one.
    client_ref = models.UUIDField(null=True, blank=True)
    # Recorded in error (the wrong officer, say): withdrawn, with a reason, and its open
    # follow-ups cancelled. It stays on record.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdraw_reason = models.CharField(max_length=280, blank=True)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["officer", "-occurred_on"], name="incident_officer_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["officer", "client_ref"],
                condition=models.Q(client_ref__isnull=False),
                name="incident_client_ref_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"incident {self.pk}"


# What a check-in's kind reads as in output: a check-in that is OH's alone, released to the
# supervisor, is shown to them as a welfare appointment, without its kind.
WELFARE_APPOINTMENT = "welfare_appointment"
SHOWN_KINDS = [*Kind.choices, (WELFARE_APPOINTMENT, "Welfare appointment")]


class Status(models.TextChoices):
    DUE = "due", "Due"
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    OVERDUE = "overdue", "Overdue"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (Status.DUE, Status.BOOKED, Status.MISSED, Status.OVERDUE)


class Outcome(models.TextChoices):
    FIT = "fit", "Fit"
    FIT_WITH_ADJUSTMENTS = "fit_with_adjustments", "Fit with adjustments"
    UNFIT = "unfit", "Unfit"
    REFERRED = "referred", "Referred"


class CheckIn(models.Model):
    """A psychological check-in an officer must have. Never deleted: cancelled or completed.

    `key` names why it exists (the posting, the completed check-in it follows, the alert
    that triggered it); a unique constraint on it makes every schedule run idempotent.
    """

    officer = models.ForeignKey("people.Officer", on_delete=models.PROTECT, related_name="checkins")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    follow_up = models.BooleanField(
        default=False, help_text="The follow-up of an exit check-in, months after leaving."
    )
    key = models.CharField(max_length=120, unique=True)
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DUE)
    booked_for = models.DateTimeField(null=True, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Sealed in the row (welfare.core.sealed): a self-referral's message (OH only), the
    # recommended adjustments (OH only until a report is released) and why a check-in was
    # cancelled (OH only).
    referral_note_encrypted = models.BinaryField(null=True, blank=True)
    adjustments_encrypted = models.BinaryField(null=True, blank=True)
    cancel_reason_encrypted = models.BinaryField(null=True, blank=True)
    # Occupational health's alone (a self-referral; a check-in triggered by a screening):
    # supervisors never see it, nor its overdue alert, unless OH releases the appointment
    # time to them, as a "welfare appointment" without its kind.
    confidential = models.BooleanField(default=False, db_default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    created_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["officer"],
                condition=models.Q(
                    kind="triggered", status__in=["due", "booked", "missed", "overdue"]
                ),
                name="checkin_one_open_triggered",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="checkin_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.COMPLETED)
                | (models.Q(completed_at__isnull=False) & ~models.Q(outcome="")),
                name="checkin_completed_has_outcome",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="checkin_status_due_idx"),
            models.Index(fields=["officer", "status"], name="checkin_officer_status_idx"),
            # The self-referrals waiting (OH's case list), without reading every check-in due.
            models.Index(
                fields=["status"],
                condition=models.Q(kind=Kind.SELF_REFERRAL),
                name="checkin_self_referral_idx",
            ),
        ]

    referral_note = sealed_text("referral_note_encrypted", doc="A self-referral's message.")
    adjustments = sealed_text("adjustments_encrypted", doc="Recommended adjustments.")
    cancel_reason = sealed_text("cancel_reason_encrypted", doc="Why it was cancelled.")

    def __str__(self) -> str:
        return f"check-in {self.pk} ({self.kind})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CheckinPolicy(models.Model):
    """The check-in schedule for one kind of unit (DOMAIN.md defaults, set by admin)."""

    unit_kind = models.CharField(max_length=32, choices=UnitKind.choices, unique=True)
    pre_posting = models.BooleanField(default=False)
    periodic_months = models.PositiveSmallIntegerField(null=True, blank=True)
    exit_checkin = models.BooleanField(default=False)
    exit_follow_up_months = models.PositiveSmallIntegerField(null=True, blank=True)
    # A regular contact (e.g. monthly counselling, as the IWF practises), where a force
    # adopts it for this kind of unit; none by default.
    contact_every_months = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["unit_kind"]

    def __str__(self) -> str:
        return f"check-in policy for {self.unit_kind}"


class CalendarFeed(models.Model):
    """A secret address for a person's own check-in calendar, for calendar apps that cannot
    send a bearer token. Stored only as the SHA-256 of the key; a new key replaces the old."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feed"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"calendar feed of user {self.user_id}"


class Screening(models.Model):
    """A scored questionnaire, taken for a check-in or as a self-check. Clinical: occupational
    health and the officer (totals and bands only) ever see it. Answers and the clinician's
    comment are encrypted at rest. Never edited."""

    # None for a self-check: a questionnaire the officer chose to take between check-ins.
    checkin = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="screenings"
    )
    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="screenings"
    )
    instrument = models.CharField(max_length=16)
    instrument_version = models.CharField(max_length=60)
    answers_encrypted = models.BinaryField()
    comment_encrypted = models.BinaryField(null=True, blank=True)
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=24)
    flags = models.JSONField(default=list, blank=True)
    previous_total = models.PositiveSmallIntegerField(null=True, blank=True)
    change = models.SmallIntegerField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(
                fields=["officer", "instrument", "-submitted_at"], name="screening_officer_idx"
            )
        ]

    def __str__(self) -> str:
        return f"screening {self.pk}"
