"""The statistics on a real streaming replica: a PostgreSQL primary and its standby, started
here from PostgreSQL's own binaries.

The test database's server cannot be the primary everywhere (the shared server a developer
points DATABASE_URL at may refuse replication connections, and nobody should reconfigure it
for a test), so the test starts its own pair in a temporary directory: `initdb` a primary,
copy the test database into it (`pg_dump | psql`, schema and the committed test data),
`pg_basebackup -R` a standby from it, start both on Unix sockets only. The binaries come
from PG_BIN_DIR when it holds initdb and pg_basebackup, otherwise from the pgserver wheel
the embedded database uses (so `make test` runs it on a fresh machine). As root, the
servers run as the `pgserver` or `postgres` system user (PostgreSQL refuses root).

Run it here against the machine's PostgreSQL 15 binaries:

    PG_BIN_DIR=/usr/lib/postgresql/15/bin DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x \\
        .venv/bin/python -m pytest tests/stats/test_read_replica.py

The embedded server could be the primary as it is (pgserver's initdb writes `local
replication all trust`, and PostgreSQL 16 defaults to wal_level=replica and 10 WAL senders),
but a pair of its own keeps the test independent of whichever server DATABASE_URL names.
It skips, saying why, when no binaries are found or no unprivileged user can run them.
Waiting for the standby to replay a write is the thing under test here: it polls, bounded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test import override_settings

from tests.conftest import Cast, client_for, database_alias, web_client_for
from welfare.audit.models import AuditEvent
from welfare.core import db as core_db
from welfare.core import rules as rules_core
from welfare.core.db import REPLICA_DB_ALIAS, reporting_alias, reporting_read
from welfare.people.models import Unit
from welfare.stats import rules, selectors
from welfare.stats.api import published

from .test_api import force  # noqa: F401 - the fixture: units of 3 to 12 people, 2027Q1

pytestmark = pytest.mark.xdist_group("read_replica")  # one pair of servers at a time

PRIMARY_ALIAS = "replica_primary"
REPLAY_TIMEOUT_SECONDS = 30
Q1 = (date(2027, 1, 1), date(2027, 4, 1))


def _binaries() -> tuple[Path | None, str]:
    """A directory with initdb, pg_ctl, pg_basebackup, pg_dump and psql, or why there is none."""
    needed = ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql", "postgres")
    candidates: list[Path] = []
    if os.environ.get("PG_BIN_DIR"):
        candidates.append(Path(os.environ["PG_BIN_DIR"]))
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for path in candidates:
        if all((path / name).is_file() for name in needed):
            return path, ""
    return None, (
        "no PostgreSQL binaries with initdb, pg_ctl, pg_basebackup, pg_dump, psql and postgres: "
        f"looked in {', '.join(map(str, candidates)) or 'nothing (no PG_BIN_DIR, no pgserver)'}"
    )


def _server_user() -> tuple[str | None, str]:
    """Who runs the servers: this process's user, or an unprivileged one when it is root."""
    if os.geteuid() != 0:
        return None, ""
    for name in ("pgserver", "postgres"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name, ""
    return None, "running as root with neither a `pgserver` nor a `postgres` system user"


@dataclass
class Pair:
    bin: Path
    root: Path
    user: str | None

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def standby(self) -> Path:
        return self.root / "standby"

    def run(self, name: str, *args: str, as_server: bool = False, **kwargs: Any) -> str:
        result = subprocess.run(
            [str(self.bin / name), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            user=self.user if as_server else None,
            **kwargs,
        )
        if result.returncode:
            raise RuntimeError(f"{name} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def start(self, data: Path) -> None:
        log = data.parent / f"{data.name}.log"
        try:
            self.run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "start", as_server=True)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{log.read_text()[-2000:]}") from error

    def stop(self, data: Path) -> None:
        if (data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", as_server=True)

    def socket(self, data: Path) -> Path:
        """Beside the data directory, never in it (a base backup would copy its lock file)."""
        return self.root / f"{data.name}.socket"

    def settings_for(self, data: Path) -> dict[str, Any]:
        """A Django DATABASES entry for a server of the pair (its socket, the superuser)."""
        return {
            **connection.settings_dict,
            "HOST": str(self.socket(data)),
            "PORT": "5432",
            "USER": "postgres",
            "PASSWORD": "",
            "ATOMIC_REQUESTS": False,
            "OPTIONS": {},
            "TEST": {},
        }


def _config(socket: Path) -> str:
    return (
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{socket}'\n"
        "port = 5432\n"
        "wal_level = replica\n"
        "max_wal_senders = 4\n"
        "hot_standby = on\n"
        "fsync = off\n"
        "shared_buffers = 16MB\n"
    )


@pytest.fixture
def pair(cast: Cast, force: Any) -> Iterator[Pair]:  # noqa: F811 - the imported fixture
    """A primary holding a copy of the test database (the cast and `force`, committed) and a
    streaming standby of it; both stopped and removed afterwards."""
    binaries, why = _binaries()
    if binaries is None:
        pytest.skip(why)
    user, why = _server_user()
    if why:
        pytest.skip(why)
    root = Path(tempfile.mkdtemp(prefix="welfare-replica-"))
    pair = Pair(binaries, root, user)
    owner = pwd.getpwnam(user) if user else None

    def own(path: Path) -> None:
        if owner is not None:
            for item in [path, *path.rglob("*")]:
                os.chown(item, owner.pw_uid, owner.pw_gid)

    try:
        for path in (pair.primary, pair.socket(pair.primary), pair.socket(pair.standby)):
            path.mkdir(mode=0o700)
        own(root)
        pair.run(
            "initdb", "-D", str(pair.primary), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync", as_server=True,
        )  # fmt: skip
        with (pair.primary / "postgresql.conf").open("a") as conf:
            conf.write(_config(pair.socket(pair.primary)))
        pair.start(pair.primary)
        source = connection.settings_dict
        env = {
            **os.environ,
            "PGHOST": source["HOST"] or "localhost",
            "PGPORT": str(source["PORT"] or 5432),
            "PGUSER": source["USER"] or "postgres",
            "PGPASSWORD": source["PASSWORD"] or "",
        }
        dump = pair.run(
            "pg_dump", "--no-owner", "--no-privileges", "--dbname", source["NAME"], env=env
        )
        # Column options are the source server's own (one here carries an option a stock
        # PostgreSQL does not know); the project sets none, the copy needs none.
        dump = re.sub(r"(?m)^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(.*\);$", "", dump)
        to_primary = {**os.environ, "PGHOST": str(pair.socket(pair.primary)), "PGUSER": "postgres"}
        pair.run("psql", "-d", "postgres", "-c", "CREATE DATABASE welfare", env=to_primary)
        pair.run("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", "welfare", input=dump, env=to_primary)
        pair.run(
            "pg_basebackup", "-h", str(pair.socket(pair.primary)), "-U", "postgres", "-D", str(pair.standby),
            "-R", "-X", "stream", "-c", "fast", "--no-sync", as_server=True,
        )  # fmt: skip
        with (pair.standby / "postgresql.conf").open("a") as conf:
            conf.write(_config(pair.socket(pair.standby)))
        pair.start(pair.standby)
        aliases = {
            PRIMARY_ALIAS: {**pair.settings_for(pair.primary), "NAME": "welfare"},
            REPLICA_DB_ALIAS: {
                **pair.settings_for(pair.standby),
                "NAME": "welfare",
                "OPTIONS": {"options": "-c default_transaction_read_only=on"},
            },
        }
        with database_alias(aliases):
            core_db.replica_state_reset()
            yield pair
    finally:
        core_db.replica_state_reset()
        for data in (pair.standby, pair.primary):
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                pair.stop(data)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_replay(lsn: str) -> None:
    """Until the standby has replayed the primary's WAL up to `lsn` (bounded)."""
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    with connections[REPLICA_DB_ALIAS].cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
            if cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the standby did not replay {lsn} in {REPLAY_TIMEOUT_SECONDS}s")
            time.sleep(0.05)


def _hr_exposure(using: str) -> list[tuple[Any, ...]]:
    """2027Q1's exposure by unit and month as published, in a fixed order (SQL gives none)."""
    table = selectors.exposure_table(["unit", "month"], *Q1, rules.Protection(k=5), using=using)
    data = published(table)
    return sorted(
        (tuple(row.values()) for row in data["rows"] + data["totals"]),
        key=lambda values: tuple(str(v) for v in values),
    )


def _twelve_hours(table: list[tuple[Any, ...]]) -> Any:
    (hours,) = [row[3] for row in table if row[:2] == ("Twelve", "2027-02")]
    return hours


def _api_hours(cast: Cast, unit: str) -> Any:
    response = client_for(cast.hr).get("/api/v1/stats/exposure?group_by=unit,month&period=2027Q1")
    assert response.status_code == 200
    (row,) = [r for r in response.json()["rows"] if r["unit"] == unit and r["month"] == "2027-02"]
    return row["hours"]


@pytest.mark.django_db(transaction=True)
def test_statistics_read_a_streaming_replica_and_fall_back_when_it_stops(
    cast: Cast, pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="welfare.db.replica")
    before = _hr_exposure("default")
    with override_settings(
        DATABASE_REPLICA_CHECK_SECONDS=3600, DATABASE_REPLICA_MAX_LAG_SECONDS=30
    ):
        # A standby of another cluster (here: the pair's, not the test database's server) is
        # never read, whatever its state.
        assert reporting_alias() == "default"
        assert rules_core.REPLICA_OTHER_CLUSTER in caplog.text
        caplog.clear()
        # From here the pair's primary stands for the primary the service writes to.
        with connections[PRIMARY_ALIAS].cursor() as cursor:
            cursor.execute("SELECT system_identifier FROM pg_control_system()")
            core_db._replica.primary_system_id = int(cursor.fetchone()[0])
        core_db._replica.checked_at = None
        assert reporting_alias() == REPLICA_DB_ALIAS  # streaming and caught up
        assert _hr_exposure(REPLICA_DB_ALIAS) == before

        # A write on the primary reaches the statistics read from the standby once replayed
        # (the daily totals and the monthly totals the statistics read, alike).
        with connections[PRIMARY_ALIAS].cursor() as cursor:
            for table in ("exposure_dailytotal", "exposure_monthlytotal"):
                cursor.execute(
                    f"UPDATE {table} SET seconds = seconds * 2 WHERE officer_id IN ("
                    " SELECT officer_id FROM people_posting p JOIN people_unit u ON u.id = p.unit_id"
                    " WHERE u.name = 'Twelve')"
                )
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (lsn,) = cursor.fetchone()
        _wait_for_replay(lsn)
        after = _hr_exposure(REPLICA_DB_ALIAS)
        assert after == _hr_exposure(PRIMARY_ALIAS)
        assert _twelve_hours(after) > _twelve_hours(before)

        # The API (and so the HR page: one use case) reads it too; its audit event is written
        # on the primary, where the audit chain is.
        audited = AuditEvent.objects.filter(action="stats.exposure").count()
        assert _api_hours(cast, "Twelve") == _twelve_hours(after)
        download = web_client_for(cast.hr).get(
            "/hr/download?table=exposure&group_by=unit,month&period=2027Q1&format=csv"
        )
        twelve = [
            line.split(",")
            for line in download.content.decode().splitlines()
            if line.startswith("Twelve,2027-02,")
        ]
        assert [int(row[3]) for row in twelve] == [_twelve_hours(after)]
        reads = AuditEvent.objects.filter(action="stats.exposure").order_by("id")[audited:]
        assert [event.detail["via"] for event in reads] == ["api", "web"]

        # Read-only: the standby refuses writes through its alias, raw or through the ORM.
        with pytest.raises(DatabaseError, match="read-only"):
            Unit.objects.using(REPLICA_DB_ALIAS).create(name="Never", kind="online_cse")
        with (
            pytest.raises(DatabaseError, match="read-only"),
            connections[REPLICA_DB_ALIAS].cursor() as cursor,
        ):
            cursor.execute("UPDATE exposure_dailytotal SET seconds = 0")

        # Stopped while still believed current: the read fails there and runs on the primary
        # (the test database, whose hours were never doubled).
        pair.stop(pair.standby)
        assert reporting_read(_hr_exposure) == before
        assert "replica_read_failed" in caplog.text

        # Checked again: unreachable, so the statistics read the primary; logged once.
        assert reporting_alias() == "default"
        assert _api_hours(cast, "Twelve") == _twelve_hours(before)
    with override_settings(DATABASE_REPLICA_CHECK_SECONDS=0):
        assert reporting_alias() == "default"
        assert reporting_alias() == "default"
    warnings = [r.getMessage() for r in caplog.records if "replica_not_used" in r.getMessage()]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]
