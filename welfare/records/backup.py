"""Backups a force can restore and prove: pg_dump in custom format from one snapshot, a
manifest with the row counts and the newest audit hash of that same snapshot, and a
verification that restores into a scratch database and checks both.

The newest audit hash is printed and written beside the dump so it can be kept somewhere
the database's administrators cannot reach: a restored chain that ends at that hash has
not been rewritten since the backup.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction

from welfare.audit.rules import ChainReport
from welfare.audit.selectors import chain_setting, chain_start_hash, chain_verify_rows
from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.core.db import one_snapshot
from welfare.records.rules import CountMismatch, count_mismatches, pick_tool, tool_major

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
# libpq reads these from the environment: the password never appears on a command line.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "options": "PGOPTIONS",
}


class BackupError(Exception):
    """A backup or its verification could not be done, or did not verify."""


def _candidate_dirs() -> Iterator[Path]:
    if settings.PG_BIN_DIR:
        yield Path(settings.PG_BIN_DIR)
    for name in ("pg_dump", "pg_restore"):
        found = shutil.which(name)
        if found:
            yield Path(found).resolve().parent
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        yield Path(spec.origin).parent / "pginstall" / "bin"
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        yield Path(found)


def pg_tool(name: str, *, at_least: int) -> tuple[str, int]:
    """The newest `name` (pg_dump, pg_restore) on this machine that is at least `at_least`."""
    candidates: list[tuple[str, int]] = []
    seen: set[Path] = set()
    for directory in _candidate_dirs():
        path = directory / name
        if path in seen or not os.access(path, os.X_OK):
            continue
        seen.add(path)
        result = subprocess.run(  # noqa: S603 - a fixed PostgreSQL tool, no shell
            [str(path), "--version"], capture_output=True, text=True, check=False
        )
        major = tool_major(result.stdout)
        if major is not None:
            candidates.append((str(path), major))
    chosen = pick_tool(candidates, at_least=at_least)
    if chosen is None:
        found = ", ".join(f"{path} ({major})" for path, major in candidates) or "none"
        raise BackupError(
            f"No {name} of PostgreSQL {at_least} or newer found (found: {found}). "
            "Install the PostgreSQL client of the server's version or set PG_BIN_DIR."
        )
    return chosen, dict(candidates)[chosen]


def server_major() -> int:
    return int(connection.cursor().connection.info.server_version) // 10000


def _libpq_env(dbname: str | None = None) -> dict[str, str]:
    db: dict[str, Any] = connection.settings_dict  # as connected (the owner for a restore)
    env = dict(os.environ)
    values = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": db.get("PORT") or "",
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": dbname or db["NAME"],
    }
    for option, variable in _LIBPQ_OPTIONS.items():
        if option in db.get("OPTIONS", {}):
            values[variable] = str(db["OPTIONS"][option])
    env.update({key: str(value) for key, value in values.items() if value})
    return env


def _table_counts(cursor: Any) -> dict[str, int]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "ORDER BY c.relname"
    )
    tables = [row[0] for row in cursor.fetchall()]
    counts: dict[str, int] = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from pg_class
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _last_audit(cursor: Any) -> tuple[int | None, str | None]:
    cursor.execute("SELECT id, hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (None, None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def _private_directory(directory: Path) -> None:
    """Create the backup directory readable by its owner only (0700). An existing one is
    left as it is (it may be a mount others manage); the files in it are 0600 anyway."""
    missing: list[Path] = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for created in missing:
        created.chmod(0o700)  # mkdir's mode is reduced by the umask


def _write_private(path: Path, text: str) -> None:
    """Write `path` readable by its owner only (0600), replacing it whole."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.replace(path)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Path
    sha256: str
    size: int
    last_audit_id: int | None
    last_audit_hash: str | None
    rows: int


def backup_create(*, out: Path, actor: Any | None = None) -> BackupResult:
    """Dump the database from one exported snapshot; count rows and read the newest audit
    hash in that same snapshot, so the manifest describes exactly what the dump holds."""
    out = out.resolve()
    _private_directory(out.parent)
    partial = out.with_name(f".{out.name}.partial")
    # pg_dump creates its file with the umask's permissions: make it 0600 before it writes.
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    major = server_major()
    pg_dump, pg_dump_major = pg_tool("pg_dump", at_least=major)
    with one_snapshot(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts = _table_counts(cursor)
        last_id, last_hash = _last_audit(cursor)
        start_hash = chain_start_hash(cursor)
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={partial}"],
            env=_libpq_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    partial.chmod(0o600)
    partial.replace(out)
    sha256 = _sha256(out)
    size = out.stat().st_size
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": clock.now().isoformat(),
        "file": out.name,
        "sha256": sha256,
        "bytes": size,
        "server_major": major,
        "pg_dump": Path(pg_dump).name,
        "pg_dump_major": pg_dump_major,
        "audit": {"last_id": last_id, "last_hash": last_hash, "chain_start": start_hash},
        "row_counts": counts,
    }
    target = manifest_path(out)
    _write_private(target, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="backup.created",
            target_type="backup",
            target_id=sha256[:16],
            detail={"bytes": size, "last_audit_id": last_id, "tables": len(counts)},
        )
    return BackupResult(out, target, sha256, size, last_id, last_hash, sum(counts.values()))


@dataclass(frozen=True)
class VerifyResult:
    database: str
    tables: int
    rows: int
    chain: ChainReport
    mismatches: list[CountMismatch]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@contextmanager
def _scratch_database(keep: bool) -> Iterator[str]:
    name = f"welfare_verify_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        if not keep:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def restore_verify(
    *,
    dump: Path,
    manifest: Path | None = None,
    expect_hash: str | None = None,
    keep: bool = False,
    actor: Any | None = None,
) -> VerifyResult:
    """Restore `dump` into a new scratch database on the same server and check it: the file's
    checksum, every table's row count and the audit chain against the manifest, and the
    chain's newest hash against one kept elsewhere when given."""
    dump = dump.resolve()
    if not dump.is_file():
        raise BackupError(f"No backup file at {dump}.")
    manifest = manifest or manifest_path(dump)
    if not manifest.is_file():
        raise BackupError(f"No manifest at {manifest}: it is written beside every backup.")
    expected = json.loads(manifest.read_text())
    problems: list[str] = []
    if _sha256(dump) != expected["sha256"]:
        problems.append("the file's SHA-256 differs from the manifest's")
    at_least = max(server_major(), int(expected.get("pg_dump_major") or 0))
    pg_restore, _ = pg_tool("pg_restore", at_least=at_least)
    with _scratch_database(keep) as name:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={name}",
                str(dump),
            ],
            env=_libpq_env(name),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in {"cursor_factory", "context", "server_side_binding"}
        } | {"dbname": name}
        with psycopg.connect(**params) as restored, restored.transaction():
            with restored.cursor() as cursor:
                counts = _table_counts(cursor)
                # A backup from before keyed hashing is verified as it was written (unkeyed).
                setting = chain_setting(cursor, unkeyed_copy_allowed=True)
            with restored.cursor(name="audit_chain") as events:
                events.execute(setting.sql)
                chain = chain_verify_rows(setting, events)
    mismatches = count_mismatches(expected["row_counts"], counts)
    problems.extend(
        f"{m.table}: {m.found} rows restored, manifest says {m.expected}" for m in mismatches
    )
    if chain.broken is not None:
        problems.append(
            f"audit chain broken at event {chain.broken.event_id}: {chain.broken.reason}"
        )
    if chain.last_hash != expected["audit"]["last_hash"]:
        problems.append("the newest audit hash differs from the manifest's")
    if expect_hash is not None and chain.last_hash != expect_hash:
        problems.append("the newest audit hash differs from the one kept elsewhere")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="backup.verified" if not problems else "backup.verify_failed",
            target_type="backup",
            target_id=str(expected["sha256"])[:16],
            detail={"events": chain.counted, "problems": len(problems)},
        )
    return VerifyResult(name, len(counts), sum(counts.values()), chain, mismatches, problems)
