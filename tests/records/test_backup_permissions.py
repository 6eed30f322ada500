"""Backups hold every record: the dump and its manifest are readable by their owner only
(0600), in a directory only its owner may enter (0700); the manifest's audit head is one
`verify_audit --expect-head` checks."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import Cast
from welfare.records.backup import manifest_path

# pg_dump reads what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The permissions must not depend on the operator's umask: test under a permissive one."""
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dump_and_manifest_are_0600_in_a_0700_directory(
    cast: Cast, tmp_path: Path, loose_umask: None
) -> None:
    out = tmp_path / "backups" / "nightly" / "welfare.dump"
    call_command("backup", "--out", str(out), stdout=StringIO())

    assert _mode(out) == 0o600
    assert _mode(manifest_path(out)) == 0o600
    assert _mode(out.parent) == 0o700
    assert _mode(out.parent.parent) == 0o700
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "welfare.dump",
        "welfare.dump.manifest.json",
    ]  # no partial file left behind


def test_a_backup_over_an_older_readable_file_is_0600(
    cast: Cast, tmp_path: Path, loose_umask: None
) -> None:
    out = tmp_path / "welfare.dump"
    out.write_bytes(b"an older file")
    out.chmod(0o644)
    manifest_path(out).write_text("{}")
    manifest_path(out).chmod(0o644)
    call_command("backup", "--out", str(out), stdout=StringIO())
    assert _mode(out) == 0o600
    assert _mode(manifest_path(out)) == 0o600


def test_the_manifests_head_is_checked_by_verify_audit(cast: Cast, tmp_path: Path) -> None:
    out = tmp_path / "welfare.dump"
    call_command("backup", "--out", str(out), stdout=StringIO())
    audit = json.loads(manifest_path(out).read_text())["audit"]
    head = f"{audit['last_id']}:{audit['last_hash']}"

    shown = StringIO()
    call_command("verify_audit", "--expect-head", head, stdout=shown)
    assert "1 kept heads present" in shown.getvalue()
    shown = StringIO()
    call_command("verify_audit", "--anchor-file", str(manifest_path(out)), stdout=shown)
    assert "1 kept heads present" in shown.getvalue()

    forged = f"{audit['last_id']}:{'0' * 64}"
    with pytest.raises(CommandError, match="REWRITTEN"):
        call_command("verify_audit", "--expect-head", forged)
