from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from schedules.models import Heartbeat
from welfare.core import clock


def leader_heartbeat_fresh() -> bool:
    """Is a leading scheduler alive (its heartbeat recent enough)?"""
    oldest = clock.now() - timedelta(seconds=settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS)
    return Heartbeat.objects.filter(role="leader", beat_at__gte=oldest).exists()
