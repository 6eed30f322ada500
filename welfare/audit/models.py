from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing that happened, who did it and to what; never its personal or health content.

    Append-only: PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE, and each
    row carries the hash of its content chained to the row before it.
    """

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who caused the event; empty for the system.",
    )
    actor_role = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="The HMAC key the hash was made with; empty: plain SHA-256, written before "
        "keyed hashing began (accepted only up to the AuditKeying boundary).",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor", "-id"], name="audit_actor_idx"),
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_target_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action} {self.target_type}:{self.target_id}"


class AuditCheckpoint(models.Model):
    """Where the retention job cut the start of the chain: the events up to and including
    `removed_through_id` were past retention and removed; the first event kept links to
    `removed_through_hash`, so the rest of the chain still verifies from here. Append-only."""

    at = models.DateTimeField()
    removed_through_id = models.BigIntegerField()
    removed_through_hash = models.CharField(max_length=64)
    removed_count = models.PositiveIntegerField()
    cutoff = models.DateTimeField(help_text="Events before this instant were past retention.")

    class Meta:
        ordering = ["-removed_through_id"]

    def __str__(self) -> str:
        return f"audit checkpoint through {self.removed_through_id}"


class AuditKeying(models.Model):
    """Where keyed hashing of the chain began: events up to and including
    `legacy_through_id` were hashed with plain SHA-256, the one at that id had
    `legacy_through_hash`. `mac` is keyed (`rules.keyed_from_mac`), so whoever owns the
    database but not the key can neither move the boundary nor forge one; with none that
    verifies, no unkeyed event is accepted. Written once by migration 0004; append-only."""

    at = models.DateTimeField()
    legacy_through_id = models.BigIntegerField()
    legacy_through_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    mac = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"audit keyed after {self.legacy_through_id}"
