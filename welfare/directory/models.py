from __future__ import annotations

from django.conf import settings
from django.db import models


class Removal(models.Model):
    """The directory removed an account (SCIM DELETE): it was deactivated, never deleted,
    and it is gone from the directory's view (404) until the directory provisions the same
    person (externalId) again, which ends the removal (`restored_at`). Rows are kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="directory_removals"
    )
    removed_at = models.DateTimeField()
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(restored_at__isnull=True),
                name="directory_removal_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"removal {self.pk} of user {self.user_id}"
