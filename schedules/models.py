from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """One row per scheduler process: the leader runs the jobs, a standby waits for its lock."""

    instance = models.CharField(max_length=120, primary_key=True)
    role = models.CharField(max_length=8, choices=[("leader", "Leader"), ("standby", "Standby")])
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.instance} ({self.role})"


class JobRun(models.Model):
    """The last run of each job, for operators (the jobs themselves keep no state here)."""

    job = models.CharField(max_length=64, primary_key=True)
    last_started_at = models.DateTimeField()
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_instant = models.DateTimeField(help_text="The instant the job ran as of.")
    last_result = models.CharField(max_length=300, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.job
