"""Synthetic data at force or national scale, loaded with PostgreSQL COPY.

Reproducible from the seed (and the end date): the same arguments give the same rows.
Sessions never cross midnight here, but daily totals are still built by the service's own
set-based statement, as every write builds them.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from welfare.core import clock
from welfare.exposure import totals
from welfare.exposure.services import current_weights

PASSWORD = "bench-password-not-secret"  # noqa: S105 - synthetic accounts for benchmarks
KINDS = [
    "abusive_images",
    "abusive_images",
    "online_cse",
    "online_cse",
    "digital_forensics",
    "other",
]
MEDIA = ["image"] * 6 + ["video"] * 3 + ["video_with_audio"] * 2 + ["text", "audio", "live"]
CATEGORIES = ["A"] * 2 + ["B"] * 3 + ["C"] * 4 + ["none", "unknown"]
ACTIVITIES = ["grading", "grading", "investigation", "victim_identification", "interview_review"]


class Progress:
    """A one-line progress bar when writing to a terminal; silent otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.tty = sys.stdout.isatty()
        self.started = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.tty and (self.done % 200 == 0 or self.done >= self.total):
            width = 30
            filled = int(width * self.done / self.total)
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            bar = "#" * filled + "." * (width - filled)
            sys.stdout.write(f"\r{self.label:<12} [{bar}] {self.done}/{self.total} ({rate:,.0f}/s)")
            sys.stdout.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stdout.write("\n")


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):  # type: ignore[arg-type]
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


SESSION_COLUMNS = (
    "id", "officer_id", "lineage", "version", "state", "started_at", "ended_at", "material",
    "category", "violent", "items_reviewed", "activity", "note", "source", "client_ref",
    "recorded_at", "recorded_by_id", "reason", "changed_at", "changed_by_id", "void_reason",
)  # fmt: skip


def _uuid_texts(raw: bytes) -> list[str]:
    text = raw.hex()
    return [str(uuid.UUID(text[i : i + 32])) for i in range(0, len(text), 32)]


def _copy_sessions(
    officers: int,
    officer_users: Sequence[int],
    postings_of: dict[int, list[tuple[int, date, date | None]]],
    heavy: set[int],
    start: date,
    until: date,
    seed: int,
    now: datetime,
) -> int:
    """Sessions for every officer, drawn with numpy a whole officer at a time and written to
    COPY as text: millions of rows in seconds, not the hours row-by-row would take."""
    zone = clock.local_zone()
    days = [start + timedelta(days=n) for n in range((until - start).days + 1)]
    working = [d for d in days if d.weekday() < 5]
    ordinal = np.array([d.toordinal() for d in working])
    morning = np.array(
        [
            int(datetime.combine(d, datetime.min.time(), tzinfo=zone).timestamp()) + 8 * 3600
            for d in working
        ]
    )
    midnight = np.array(
        [
            int(
                datetime.combine(
                    d + timedelta(days=1), datetime.min.time(), tzinfo=zone
                ).timestamp()
            )
            for d in working
        ]
    )
    limit = int(now.timestamp())
    media, categories, activities = np.array(MEDIA), np.array(CATEGORIES), np.array(ACTIVITIES)
    progress = Progress("sessions", officers)
    written = 0
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(
            f"COPY exposure_exposuresession ({', '.join(SESSION_COLUMNS)}) FROM STDIN"
        ) as copy,
    ):  # type: ignore[arg-type]
        for officer_id in range(1, officers + 1):
            rng = np.random.default_rng([seed, officer_id])
            first = max(start, min(p[1] for p in postings_of[officer_id])).toordinal()
            keep = ordinal >= first
            base, end_of_day = morning[keep], midnight[keep]
            n_days = len(base)
            extra = 1 if officer_id in heavy else 0
            # Viewing on about 60% of working days (the rest: enquiries, court, training,
            # leave), 1-3 sessions; heavy viewers more, and longer.
            per_day = rng.choice([0, 1, 2, 3], size=n_days, p=[0.4, 0.3, 0.2, 0.1])
            per_day[(per_day > 0) & (extra > 0)] += extra
            total = int(per_day.sum())
            if total:
                day = np.repeat(np.arange(n_days), per_day)
                # Most sessions keep well inside the hour with a proper break after; some
                # run long (up to three hours), a few pauses are too short, some days late.
                long_share = 0.3 if extra else 0.04
                minutes = np.where(
                    rng.random(total) < long_share,
                    rng.integers(61, 181, total),
                    rng.integers(10, 46, total),
                )
                gaps = rng.choice(
                    [5, 10, 15, 20, 30, 45], total, p=[0.04, 0.22, 0.26, 0.22, 0.16, 0.1]
                )
                step = (minutes + gaps) * 60
                cum = np.cumsum(step) - step
                first_of_day = np.concatenate(([0], np.cumsum(per_day)[:-1]))[day]
                late = rng.random(n_days) < 0.02
                offset = (rng.integers(0, 12, n_days) * 300 + late * 6 * 3600)[day]
                begin = base[day] + offset + cum - cum[first_of_day]
                finish = begin + minutes * 60
                ok = (finish <= end_of_day[day]) & (finish <= limit)
                begin, finish = begin[ok], finish[ok]
                count = len(begin)
                starts = np.datetime_as_string(begin.astype("datetime64[s]"), unit="s")
                ends = np.datetime_as_string(finish.astype("datetime64[s]"), unit="s")
                recorded = np.datetime_as_string((finish + 300).astype("datetime64[s]"), unit="s")
                m = media[rng.integers(0, len(media), count)]
                c = categories[rng.integers(0, len(categories), count)]
                a = activities[rng.integers(0, len(activities), count)]
                violent = rng.random(count) < 0.12
                items = rng.integers(20, 900, count)
                lineages = _uuid_texts(rng.bytes(16 * count))
                refs = _uuid_texts(rng.bytes(16 * count))
                uid = officer_users[officer_id - 1]
                # One COPY text line per session (columns as SESSION_COLUMNS).
                lines = [
                    f"{written + i + 1}\t{officer_id}\t{lineages[i]}\t1\tcurrent\t"
                    f"{starts[i]}+00\t{ends[i]}+00\t{m[i]}\t{c[i]}\t{'t' if violent[i] else 'f'}\t"
                    f"{items[i]}\t{a[i]}\t\tself\t{refs[i]}\t{recorded[i]}+00\t{uid}\t\t\\N\t\\N\t\n"
                    for i in range(count)
                ]
                copy.write("".join(lines))
                written += count
            progress.step()
    progress.finish()
    return written


@contextmanager
def bulk_load() -> Iterator[None]:
    """Load without per-row checks, then rebuild them in one pass: drop the overlap constraint
    and skip foreign-key triggers (a replica session, superuser only; without it, the load is
    just slower)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cursor.fetchone()[0])
        cursor.execute(
            "ALTER TABLE exposure_exposuresession DROP CONSTRAINT IF EXISTS exposure_no_overlap"
        )
        if superuser:
            cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if superuser:
                cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute(OVERLAP_CONSTRAINT)


OVERLAP_CONSTRAINT = """
ALTER TABLE exposure_exposuresession ADD CONSTRAINT exposure_no_overlap EXCLUDE USING gist (
    int8range(
        officer_id * 10000000000 + welfare_epoch_seconds(started_at),
        officer_id * 10000000000 + welfare_epoch_seconds(ended_at)
    ) WITH &&
) WHERE (state = 'current')
"""


def _settle_totals() -> None:
    """Date each daily total as the service would have: a few minutes after the day's last
    session ended (not when this load ran), so a sweep sees only what changed since its mark."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE exposure_dailytotal SET updated_at = COALESCE(last_end, "
            "(day + 1)::timestamp AT TIME ZONE %s) + interval '5 minutes'",
            [str(clock.local_zone())],
        )


def reset_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) "
        cursor.execute(sql + f"FROM {table}")


@dataclass
class Counts:
    users: int = 0
    units: int = 0
    officers: int = 0
    postings: int = 0
    sessions: int = 0
    daily_totals: int = 0
    checkins: int = 0
    screenings: int = 0
    alerts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def _timed(counts: Counts, name: str, work: Callable[[], int]) -> int:
    started = time.monotonic()
    result = work()
    counts.seconds[name] = round(time.monotonic() - started, 2)
    return result


USER_COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined", "role", "is_oh_lead",
)  # fmt: skip
# A force's OH service has a lead or two however many clinicians it has: escalations and
# rotation alerts without a case owner go to them (docs/DOMAIN.md).
OH_LEADS = 2
CHECKIN_COLUMNS = (
    "id", "officer_id", "kind", "follow_up", "key", "due_on", "status", "booked_for",
    "booked_by_id", "outcome", "completed_at", "completed_by_id", "cancelled_at",
    "cancelled_by_id", "cancel_reason_encrypted", "referral_note_encrypted",
    "adjustments_encrypted", "created_at", "status_changed_at",
)  # fmt: skip
SCREENING_COLUMNS = (
    "id", "checkin_id", "officer_id", "instrument", "instrument_version", "answers_encrypted",
    "comment_encrypted", "total", "band", "flags", "previous_total", "change",
    "submitted_by_id", "submitted_at",
)  # fmt: skip
ALERT_COLUMNS = (
    "id", "officer_id", "kind", "severity", "status", "clinical", "dedupe_key", "detail",
    "checkin_id", "posting_id", "raised_at", "escalated_at", "acknowledged_at",
    "acknowledged_by_id", "resolved_at", "resolved_by_id", "resolution_note",
)  # fmt: skip
LOADED_TABLES = (
    "accounts_user", "people_unit", "people_officer", "people_posting",
    "exposure_exposuresession", "checkins_checkin", "checkins_screening", "alerts_alert",
)  # fmt: skip


def unit_sizes(officers: int, rng: random.Random) -> list[int]:
    """Teams of 5 to 40, as units are: a few large, most small."""
    sizes: list[int] = []
    left = officers
    while left > 0:
        size = min(left, int(rng.triangular(5, 40, 10)))
        sizes.append(size)
        left -= size
    return sizes


@dataclass
class _People:
    users: list[tuple[Any, ...]] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    clinicians: list[int] = field(default_factory=list)
    officer_users: list[int] = field(default_factory=list)

    def add(
        self, username: str, role: str, password: str, now: datetime, lead: bool = False
    ) -> int:
        user_id = len(self.users) + 1
        admin = role == "admin"
        self.users.append(
            (user_id, password, None, admin, username, "", "", "", admin, True, now, role, lead)
        )
        return user_id


def _checkin_history(
    rng: random.Random,
    postings_of: dict[int, list[tuple[int, date, date | None]]],
    kinds: list[str],
    until: date,
    clinician: int,
    now: datetime,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Periodic check-ins since each officer's current posting, mostly done on time (about
    half with a PHQ-9); the latest may be due, a few were missed or are overdue."""
    checkins: list[tuple[Any, ...]] = []
    screenings: list[tuple[Any, ...]] = []
    for officer_id, mine in postings_of.items():
        unit, posted, _ = mine[-1]
        months = 6 if kinds[unit - 1] in ("abusive_images", "online_cse") else 12
        due = posted + timedelta(days=30 * months)
        while due <= until + timedelta(days=60):
            checkin_id = len(checkins) + 1
            draw = rng.random()
            key = f"bench:{checkin_id}"
            if due > until or draw > 0.93:
                status = "due" if due > until else ("overdue" if draw > 0.97 else "missed")
                checkins.append(
                    (checkin_id, officer_id, "periodic", False, key, due, status, None, None,
                     "", None, None, None, None, None, None, None, now, now)
                )  # fmt: skip
            else:
                done = datetime.combine(
                    due + timedelta(days=rng.randint(-10, 25)), datetime.min.time(), tzinfo=UTC
                ) + timedelta(hours=10)
                outcome = rng.choice(["fit", "fit", "fit", "fit_with_adjustments", "referred"])
                checkins.append(
                    (checkin_id, officer_id, "periodic", False, key, due, "completed", None,
                     None, outcome, done, clinician, None, None, None, None, None, now, now)
                )  # fmt: skip
                if rng.random() < 0.5:
                    total = rng.randint(0, 20)
                    band = "mild" if total >= 5 else "minimal"
                    screenings.append(
                        (len(screenings) + 1, checkin_id, officer_id, "phq9",
                         "PHQ-9 (Pfizer, 1999)", b"bench", None, total, band, "[]", None, None,
                         clinician, done)
                    )  # fmt: skip
            due += timedelta(days=30 * months)
    return checkins, screenings


def _alert_history(rng: random.Random, heavy: set[int], until: date) -> list[tuple[Any, ...]]:
    """Earlier weekly-limit alerts of the heavy viewers, most of them resolved."""
    rows: list[tuple[Any, ...]] = []
    for officer_id in sorted(heavy):
        alert_id = len(rows) + 1
        raised = datetime.combine(
            until - timedelta(days=rng.randint(1, 300)), datetime.min.time(), tzinfo=UTC
        )
        resolved = rng.random() < 0.7
        acknowledged = raised + timedelta(hours=rng.randint(1, 100)) if resolved else None
        rows.append(
            (alert_id, officer_id, "exposure_limit", "high", "resolved" if resolved else "open",
             False, f"bench:{alert_id}", '{"rule": "week_minutes"}', None, None, raised, None,
             acknowledged, None, raised + timedelta(days=3) if resolved else None, None,
             "Reviewed." if resolved else "")
        )  # fmt: skip
    return rows


def generate(*, officers: int, years: float, seed: int, until: date | None = None) -> Counts:
    """Fill an empty database; refuse one that has people in it already."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM people_officer")
        if cursor.fetchone()[0]:
            raise RuntimeError("bench_data needs an empty database (no officers).")
    until = until or clock.today()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible from the seed
    start = until - timedelta(days=int(365.25 * years))
    counts = Counts()
    now = clock.now()
    password = make_password(PASSWORD)
    sizes = unit_sizes(officers, rng)
    n_units = len(sizes)
    kinds = [KINDS[u % len(KINDS)] for u in range(n_units)]
    with transaction.atomic(), bulk_load():
        people = _People()
        people.add("admin", "admin", password, now)
        people.supervisors = [
            people.add(f"sup{u:04d}", "supervisor", password, now) for u in range(1, n_units + 1)
        ]
        people.clinicians = [
            people.add(f"oh{n:03d}", "oh", password, now, lead=n <= OH_LEADS)
            for n in range(1, max(2, officers // 200) + 1)
        ]
        people.add("hr001", "hr", password, now)
        people.officer_users = [
            people.add(f"officer{n:06d}", "officer", password, now) for n in range(1, officers + 1)
        ]
        counts.users = _timed(
            counts, "users", lambda: copy_rows("accounts_user", USER_COLUMNS, people.users)
        )
        units = [(u, f"Unit {u:04d}", kinds[u - 1], now) for u in range(1, n_units + 1)]
        counts.units = copy_rows("people_unit", ["id", "name", "kind", "created_at"], units)
        copy_rows(
            "people_unit_supervisors",
            ["unit_id", "user_id"],
            [(u, people.supervisors[u - 1]) for u in range(1, n_units + 1)],
        )

        # Officers fill the units in turn; a fifth moved in from another unit.
        home = [unit for unit, size in enumerate(sizes, start=1) for _ in range(size)]
        officer_rows: list[tuple[Any, ...]] = []
        posting_rows: list[tuple[Any, ...]] = []
        postings_of: dict[int, list[tuple[int, date, date | None]]] = {}
        for index, uid in enumerate(people.officer_users, start=1):
            officer_rows.append((index, uid, f"B{index:06d}", f"Officer {index:06d}", now))
            unit = home[index - 1]
            posted = start + timedelta(days=rng.randint(-400, int(365.25 * years) - 30))
            mine: list[tuple[int, date, date | None]] = []
            if rng.random() < 0.2 and posted > start:
                earlier = posted - timedelta(days=rng.randint(200, 700))
                mine.append((unit % n_units + 1, earlier, posted - timedelta(days=1)))
            mine.append((unit, posted, None))
            for previous_unit, since, ended in mine:
                posting_rows.append(
                    (len(posting_rows) + 1, index, previous_unit, since, ended, now)
                )
            postings_of[index] = mine
        counts.officers = copy_rows(
            "people_officer",
            ["id", "user_id", "staff_number", "display_name", "created_at"],
            officer_rows,
        )
        counts.postings = copy_rows(
            "people_posting",
            ["id", "officer_id", "unit_id", "started_on", "ended_on", "created_at"],
            posting_rows,
        )

        heavy = {i for i in range(1, officers + 1) if rng.random() < 0.08}
        counts.sessions = _timed(
            counts,
            "sessions",
            lambda: _copy_sessions(
                officers, people.officer_users, postings_of, heavy, start, until, seed, now
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
        counts.daily_totals = _timed(
            counts, "daily_totals", lambda: totals.rebuild(weights=current_weights())
        )
        _settle_totals()

        checkins, screenings = _checkin_history(
            rng, postings_of, kinds, until, people.clinicians[0], now
        )
        counts.checkins = copy_rows("checkins_checkin", CHECKIN_COLUMNS, checkins)
        counts.screenings = copy_rows("checkins_screening", SCREENING_COLUMNS, screenings)
        counts.alerts = copy_rows("alerts_alert", ALERT_COLUMNS, _alert_history(rng, heavy, until))
        for table in LOADED_TABLES:
            reset_sequence(table)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts
