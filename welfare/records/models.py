from __future__ import annotations

from django.conf import settings
from django.db import models


class LegalHold(models.Model):
    """While active, nothing about the officer is removed by the retention job, and the audit
    trail is not cut at all (it can only be cut from its start). Placed and lifted by an
    admin, never deleted; the reason is a reference (a claim or case number), not health data.
    """

    officer = models.ForeignKey(
        "people.Officer", on_delete=models.PROTECT, related_name="legal_holds"
    )
    reason = models.CharField(max_length=280)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["officer"],
                condition=models.Q(lifted_at__isnull=True),
                name="legal_hold_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"legal hold {self.pk}"
