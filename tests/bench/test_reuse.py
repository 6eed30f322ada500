"""A reused benchmark database is made again once its logged sessions come near now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.run import FREE_HOURS_NEEDED, has_free_hours

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_a_database_is_reused_only_while_its_sessions_leave_hours_free() -> None:
    assert has_free_hours(None, NOW)  # no sessions at all
    assert has_free_hours(NOW - timedelta(days=2), NOW)  # fresh: history ends days ago
    assert has_free_hours(NOW - timedelta(hours=FREE_HOURS_NEEDED), NOW)
    assert not has_free_hours(NOW - timedelta(hours=FREE_HOURS_NEEDED - 1), NOW)
    assert not has_free_hours(NOW + timedelta(minutes=5), NOW)  # already in the future
