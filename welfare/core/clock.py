"""The one source of "now" for domain code.

Domain code never calls `timezone.now()`: it asks this clock, which tests can set.
When nothing is set, it is the real time.

Setting it (`freeze`, `frozen`) changes "now" for the whole process, every thread; it
is for tests and single-threaded tools (bench), never for production code. A job runs
as of an instant by being given it: the scheduler and `run_jobs --at` pass `at` to each
job, which passes it on to every service it calls (services called from a web request
leave it out, and ask this clock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_lock = threading.Lock()
_frozen_at: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    frozen = _frozen_at
    return frozen if frozen is not None else timezone.now()


def local_zone() -> ZoneInfo:
    """The force's time zone, in which days are counted."""
    return ZoneInfo(settings.TIME_ZONE)


def today() -> date:
    """Today's date in the force's time zone."""
    return now().astimezone(local_zone()).date()


def freeze(at: datetime) -> None:
    """Make `now()` return `at` until `unfreeze()`; `at` must carry a time zone."""
    if at.tzinfo is None:
        raise ValueError("The clock needs a timezone-aware instant.")
    global _frozen_at
    with _lock:
        _frozen_at = at.astimezone(ZoneInfo("UTC"))


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (or back, with a negative delta)."""
    global _frozen_at
    with _lock:
        if _frozen_at is None:
            raise RuntimeError("Only a frozen clock can be advanced.")
        _frozen_at = _frozen_at + delta
        return _frozen_at


def unfreeze() -> None:
    global _frozen_at
    with _lock:
        _frozen_at = None


def is_frozen() -> bool:
    return _frozen_at is not None


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Run a block as of `at`, restoring the previous state afterwards. Process-wide: for
    tests and single-threaded tools only (see the module's docstring)."""
    previous = _frozen_at
    freeze(at)
    try:
        yield
    finally:
        if previous is None:
            unfreeze()
        else:
            freeze(previous)
