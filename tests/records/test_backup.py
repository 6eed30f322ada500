"""Backups restore into a scratch database and prove themselves: checksum, row counts and
the audit hash chain against the manifest written with the dump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from backend.db_roles import as_owner
from tests.conftest import Cast
from welfare.audit.models import AuditEvent
from welfare.records.backup import manifest_path, restore_verify
from welfare.records.rules import count_mismatches, pick_tool, tool_major

# pg_dump and pg_restore read what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ("pg_dump (PostgreSQL) 16.4\n", 16),
        ("pg_restore (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)\n", 17),
        ("pg_dump (PostgreSQL) 15beta1", 15),
        ("something else 1.2", None),
    ],
)
def test_tool_major_reads_the_version_line(output: str, major: int | None) -> None:
    assert tool_major(output) == major


def test_pick_tool_takes_the_newest_not_older_than_the_server() -> None:
    candidates = [("/usr/bin/pg_dump", 15), ("/opt/pg17/pg_dump", 17), ("/opt/pg16/pg_dump", 16)]
    assert pick_tool(candidates, at_least=16) == "/opt/pg17/pg_dump"
    assert pick_tool(candidates, at_least=18) is None


def test_count_mismatches_names_missing_and_different_tables() -> None:
    found = count_mismatches({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0})
    assert [(m.table, m.expected, m.found) for m in found] == [("b", 2, 3), ("c", None, 0)]


def _scratch_databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'welfare_verify_%%'")
        return {row[0] for row in cursor.fetchall()}


def test_backup_restores_and_verifies(cast: Cast, tmp_path: Path) -> None:
    out = tmp_path / "welfare.dump"
    call_command("backup", "--out", str(out))

    manifest = json.loads(manifest_path(out).read_text())
    newest_in_dump = manifest["audit"]["last_hash"]
    assert out.stat().st_size == manifest["bytes"]
    assert manifest["row_counts"]["people_officer"] == 3
    assert manifest["row_counts"]["audit_auditevent"] == manifest["audit"]["last_id"] - (
        AuditEvent.objects.order_by("id").first().pk - 1  # type: ignore[union-attr]
    )
    # The backup itself is audited after the snapshot, so it is not in the dump.
    assert AuditEvent.objects.order_by("-id").first().action == "backup.created"  # type: ignore[union-attr]

    with as_owner():  # it creates a scratch database: manage.py restore_verify does the same
        result = restore_verify(dump=out, expect_hash=newest_in_dump)

    assert result.ok, result.problems
    assert result.chain.counted == manifest["row_counts"]["audit_auditevent"]
    assert result.chain.last_hash == newest_in_dump
    assert result.rows == sum(manifest["row_counts"].values())
    assert result.database not in _scratch_databases()  # dropped after the check


def test_restore_verify_refuses_a_hash_that_was_not_kept(cast: Cast, tmp_path: Path) -> None:
    out = tmp_path / "welfare.dump"
    call_command("backup", "--out", str(out))

    with pytest.raises(CommandError, match="differs from the one kept elsewhere"):
        call_command("restore_verify", str(out), "--expect-hash", "0" * 64)
    assert AuditEvent.objects.filter(action="backup.verify_failed").exists()


def test_restore_verify_notices_a_manifest_that_does_not_match(cast: Cast, tmp_path: Path) -> None:
    out = tmp_path / "welfare.dump"
    call_command("backup", "--out", str(out))
    manifest = json.loads(manifest_path(out).read_text())
    manifest["row_counts"]["people_officer"] += 1
    manifest_path(out).write_text(json.dumps(manifest))

    with as_owner():
        result = restore_verify(dump=out)

    assert not result.ok
    assert [m.table for m in result.mismatches] == ["people_officer"]


def test_restore_verify_notices_a_changed_file(cast: Cast, tmp_path: Path) -> None:
    out = tmp_path / "welfare.dump"
    call_command("backup", "--out", str(out))
    with out.open("ab") as handle:
        handle.write(b"\0")

    with pytest.raises(CommandError, match="SHA-256 differs"):
        call_command("restore_verify", str(out))
