from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import DateTimeField, Func

from schedules.models import Heartbeat


class DatabaseNow(Func):
    """The database's real time at this statement (not its transaction's start, and never
    the domain clock, which tests and replays set)."""

    template = "statement_timestamp()"
    output_field = DateTimeField()


def leader_heartbeat_fresh() -> bool:
    """Is a leading scheduler alive (its heartbeat recent enough)? The heartbeat is written
    in the database's time and compared with it here, so neither a job's instant nor a web
    host's clock can make a live leader look stale."""
    oldest = DatabaseNow() - timedelta(seconds=settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS)
    return Heartbeat.objects.filter(role="leader", beat_at__gte=oldest).exists()
