"""In-process measurements, one per call, printed as one JSON line (the last line of output).

    python -m bench.measure sweep --until YYYY-MM-DD [--repeats N]
    python -m bench.measure jobs --until YYYY-MM-DD
    python -m bench.measure stats [--repeats N]
    python -m bench.measure queries --until YYYY-MM-DD
    python -m bench.measure tokens --until YYYY-MM-DD --out DIR

Each runs in its own process (so its peak memory is its own) against the database in
DATABASE_URL. Everything a measurement changes is rolled back, so a benchmark database can
be measured again; `tokens` is the exception: it issues the log-in tokens the HTTP runs use.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from backend.heap import freeze_startup_heap  # noqa: E402
from schedules.jobs import JOBS  # noqa: E402
from schedules.runner import run_all, run_job  # noqa: E402
from welfare.accounts.models import User  # noqa: E402
from welfare.accounts.services import token_issue  # noqa: E402
from welfare.alerts.models import SweepMark  # noqa: E402
from welfare.alerts.services import EXPOSURE_SWEEP  # noqa: E402
from welfare.core import clock  # noqa: E402
from welfare.core.roles import Role  # noqa: E402
from welfare.exposure.models import DailyTotal  # noqa: E402
from welfare.exposure.services import exposure_log  # noqa: E402
from welfare.people.models import Officer, Posting, Unit  # noqa: E402
from welfare.stats import rules as stats_rules  # noqa: E402
from welfare.stats.selectors import CATEGORIES, MEDIA, exposure_table  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call, starting from a collected heap, so that a garbage collection
    owed by whatever ran before is not billed to this call."""
    gc.collect()
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), tzinfo=clock.local_zone())


# --- Sweep --------------------------------------------------------------------------------

# The floor: every officer's day, 7-day and 28-day totals for one day, from the daily totals.
SWEEP_FLOOR = """
    SELECT officer_id,
           SUM(seconds) FILTER (WHERE day = %(on)s), SUM(seconds) FILTER (WHERE day > %(on)s - 7),
           SUM(seconds), SUM(weighted_seconds) FILTER (WHERE day = %(on)s),
           SUM(weighted_seconds) FILTER (WHERE day > %(on)s - 7), SUM(weighted_seconds)
    FROM exposure_dailytotal
    WHERE day > %(on)s - 28 AND day <= %(on)s
    GROUP BY officer_id
"""


def _floor(on: date) -> int:
    with connection.cursor() as cursor:
        cursor.execute(SWEEP_FLOOR, {"on": on})
        return len(cursor.fetchall())


def _mark(at: datetime) -> None:
    SweepMark.objects.update_or_create(name=EXPOSURE_SWEEP, defaults={"through": at})


def last_working_day(until: date) -> date:
    """The last day up to `until` on which anyone viewed: history has no sessions at
    weekends, and a sweep of an empty day measures nothing."""
    day = DailyTotal.objects.filter(day__lte=until).aggregate(last=Max("day"))["last"]
    return day or until


def sweep(until: date, repeats: int) -> dict[str, Any]:
    """The exposure sweep at 20:00 on the last working day of history, over every officer
    who viewed that day (the mark at midnight before), against the floor; then after 1% of
    officers log a session the next morning."""
    until = last_working_day(until)
    job = next(j for j in JOBS if j.name == EXPOSURE_SWEEP)
    at = local(until, 20)
    with rolled_back():
        _mark(local(until, 0))
        first_seconds, first = timed(lambda: run_job(job, at))  # raises the day's alerts
        full, floor = [], []
        for _ in range(repeats):
            floor.append(timed(lambda: _floor(until))[0])
            _mark(local(until, 0))
            full.append(timed(lambda: run_job(job, at))[0])
        officers = list(
            Officer.objects.order_by("-id").values_list("id", "user_id")[
                : max(1, Officer.objects.count() // 100)
            ]
        )
        next_day = until + timedelta(days=1)
        with clock.frozen(local(next_day, 11)):
            for officer_id, user_id in officers:
                exposure_log(
                    officer=Officer.objects.get(pk=officer_id),
                    recorded_by=User.objects.get(pk=user_id),
                    started_at=local(next_day, 10),
                    ended_at=local(next_day, 10, 30),
                    material="image",
                    category="C",
                    violent=False,
                    client_ref=uuid.uuid4(),
                )
        later = local(next_day, 11)
        _mark(at)
        incremental_first, _ = timed(lambda: run_job(job, later))
        incremental = []
        for _ in range(repeats):
            _mark(at)
            incremental.append(timed(lambda: run_job(job, later))[0])
    return {
        "day": until.isoformat(),
        "officers_viewing": first.examined if hasattr(first, "examined") else None,
        "first_run_ms": round(first_seconds * 1000, 1),
        "first_run_alerts": getattr(first, "raised", None),
        "full_ms": median_ms(full),
        "floor_ms": median_ms(floor),
        "incremental_officers": len(officers),
        "incremental_first_ms": round(incremental_first * 1000, 1),
        "incremental_ms": median_ms(incremental),
        "repeats": repeats,
        "peak_rss_mb": peak_rss_mb(),
    }


def jobs(until: date, repeats: int = 3) -> dict[str, Any]:
    """Every scheduled job once, as `run_jobs` runs them, at 20:00 on the last day: first as
    the catch-up of a service that has never run a job (every check-in the schedule calls
    for, every rotation alert, every overdue escalation and its notifications and e-mails
    at once), then in steady state: the same jobs again an hour later, and the next
    morning after the daily ones' hour (rotation 06:30), when little new is due. Peak
    memory is the catch-up's (the process's peak; steady runs reuse what it freed)."""
    at = local(until, 20)
    with rolled_back():
        _mark(local(until, 0))
        first_seconds, first = timed(lambda: run_all(at))
        peak = peak_rss_mb()
        hourly, morning = [], []
        for _ in range(repeats):
            with rolled_back():
                hourly.append(timed(lambda: run_all(at + timedelta(hours=1)))[0])
            with rolled_back():
                morning.append(timed(lambda: run_all(local(until + timedelta(days=1), 7)))[0])
    return {
        "ms": round(first_seconds * 1000, 1),
        "first_ms": round(first_seconds * 1000, 1),
        "steady_ms": median_ms(hourly),
        "next_morning_ms": median_ms(morning),
        "jobs": len(first),
        "work": {name: _work(result) for name, result in first.items()},
        "peak_rss_mb": peak,
    }


def _work(result: object) -> Any:
    """What a job reported doing (its counts), as JSON."""
    if hasattr(result, "__dataclass_fields__"):
        return {k: v for k, v in vars(result).items() if isinstance(v, int | float | str | bool)}
    return repr(result)[:120]


# --- Statistics ---------------------------------------------------------------------------

STATS_FLOOR = f"""
    SELECT p.unit_id, date_trunc('month', t.day), COUNT(DISTINCT t.officer_id),
           {
    ", ".join(
        f"SUM(t.{c})"
        for c in [
            "seconds",
            "weighted_seconds",
            "violent_seconds",
            *(f"{m}_seconds" for m in MEDIA),
            *(f"category_{c}_seconds" for c in CATEGORIES),
        ]
    )
}
    FROM exposure_dailytotal t
    JOIN people_posting p ON p.officer_id = t.officer_id
     AND p.started_on <= t.day AND (p.ended_on IS NULL OR p.ended_on >= t.day)
    WHERE t.day >= %(first)s AND t.day < %(end)s AND t.seconds > 0
    GROUP BY 1, 2
"""  # noqa: S608 - column names from constants


def stats(repeats: int) -> dict[str, Any]:
    """The HR exposure table by unit and month over all the data, protected as HR's request
    is (its k, on the configured ladder of every audience's k), against the bare GROUP BY
    that feeds it (people and the same sums per unit and month)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(day), MAX(day) FROM exposure_dailytotal")
        low, high = cursor.fetchone()
    first = low.replace(day=1)
    end = (high.replace(day=1) + timedelta(days=32)).replace(day=1)
    protection = stats_rules.protection_for(
        "hr", hr_k=settings.STATS_K_HR, board_k=settings.STATS_K_BOARD
    )

    def floor() -> int:
        with connection.cursor() as cursor:
            cursor.execute(STATS_FLOOR, {"first": first, "end": end})
            return len(cursor.fetchall())

    def table() -> Any:
        return exposure_table(["unit", "month"], first, end, protection)

    # The statistics first, alone: the peak memory reported is theirs, not the floor's
    # (which fetches every sum as a Decimal: at national scale about as much again).
    timed(table)
    peak = peak_rss_mb()
    service, bare, rows = [], [], 0
    for _ in range(repeats):
        bare.append(timed(floor)[0])
        seconds, result = timed(table)
        service.append(seconds)
        rows = len(result.frame)
    return {
        "service_ms": median_ms(service),
        "floor_ms": median_ms(bare),
        "rows": rows,
        "months": (end.year - first.year) * 12 + end.month - first.month,
        "repeats": repeats,
        "peak_rss_mb": peak,
    }


# --- Queries per request ----------------------------------------------------------------------


def _queries(user: User, path: str) -> int:
    client = Client()
    raw, _ = token_issue(user=user, otp_verified=True)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.content[:200]!r}")
    return len(captured)


def queries(until: date) -> dict[str, Any]:
    """Queries per read for the smallest and the largest team: they must not differ."""
    with rolled_back(), clock.frozen(local(until, 20)):
        sizes = sorted(
            (Posting.objects.filter(unit=u, ended_on__isnull=True).count(), u.pk)
            for u in Unit.objects.all()
        )
        (small_size, small), (large_size, large) = sizes[0], sizes[-1]
        result: dict[str, Any] = {"team_sizes": [small_size, large_size]}
        for name, path in (
            ("team_summary", "/api/v1/units/{unit}/summary"),
            ("alerts", "/api/v1/alerts/?status=open"),
        ):
            counts = []
            for unit_id in (small, large):
                supervisor = Unit.objects.get(pk=unit_id).supervisors.first()
                assert supervisor is not None
                counts.append(_queries(supervisor, path.format(unit=unit_id)))
            result[name] = counts
        oh = User.objects.filter(role=Role.OH).first()
        assert oh is not None
        result["oh_cases"] = [  # one page of 10 cases, one of 50
            _queries(oh, "/api/v1/oh/cases/?page_size=10"),
            _queries(oh, "/api/v1/oh/cases/?page_size=50"),
        ]
    return result


# --- Tokens for the HTTP runs -----------------------------------------------------------------


def tokens(until: date, out: Path, writers: int) -> dict[str, Any]:
    """Log-in tokens (as the log-in endpoint issues them) for officers who will log sessions,
    supervisors and clinicians who will read; and where the officers' free time starts."""
    out.mkdir(parents=True, exist_ok=True)
    officers = list(Officer.objects.order_by("id").values_list("id", "user_id")[:writers])
    lines = []
    for officer_id, user_id in officers:
        raw, _ = token_issue(user=User.objects.get(pk=user_id), otp_verified=False)
        lines.append(f"{raw} {officer_id} {user_id}")
    (out / "writers.txt").write_text("\n".join(lines) + "\n")
    reads: dict[str, list[str]] = {"team_summary": [], "alerts": [], "oh_cases": []}
    for unit in Unit.objects.order_by("id").prefetch_related("supervisors")[:200]:
        for supervisor in unit.supervisors.all():
            raw, _ = token_issue(user=supervisor, otp_verified=True)
            reads["team_summary"].append(f"{raw} /api/v1/units/{unit.pk}/summary")
            reads["alerts"].append(f"{raw} /api/v1/alerts/?status=open")
    for clinician in User.objects.filter(role=Role.OH, is_active=True)[:20]:
        raw, _ = token_issue(user=clinician, otp_verified=True)
        reads["oh_cases"].append(f"{raw} /api/v1/oh/cases/")
    for name, entries in reads.items():
        (out / f"read-{name}.txt").write_text("\n".join(entries) + "\n")
    # Sessions logged in the run start after everything these officers have, on the day
    # after the history, in ten-minute slots.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(ended_at) FROM exposure_exposuresession WHERE officer_id = ANY(%s)",
            [[o for o, _ in officers]],
        )
        (latest,) = cursor.fetchone()
    start = local(until + timedelta(days=1), 0)
    if latest is not None and latest > start:
        start = latest + timedelta(minutes=10)
    return {"writers": len(officers), "base": int(start.timestamp()), "out": str(out)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.measure")
    parser.add_argument("what", choices=["sweep", "jobs", "stats", "queries", "tokens"])
    parser.add_argument("--until", type=date.fromisoformat)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--writers", type=int, default=1000)
    args = parser.parse_args(argv)
    freeze_startup_heap()  # as the scheduler and the web workers do at start
    if args.what == "sweep":
        result = sweep(args.until, args.repeats)
    elif args.what == "jobs":
        result = jobs(args.until, max(1, args.repeats // 5))
    elif args.what == "stats":
        result = stats(args.repeats)
    elif args.what == "queries":
        result = queries(args.until)
    else:
        result = tokens(args.until, args.out, args.writers)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
