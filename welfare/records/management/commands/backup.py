from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.records.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Dump the database (pg_dump custom format) from one snapshot and write a manifest "
        "beside it with row counts and the newest audit hash; keep that hash elsewhere."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="Where to write the dump.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(out=options["out"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backup: {result.path} ({result.size} bytes, {result.rows} rows)")
        self.stdout.write(f"SHA-256: {result.sha256}")
        self.stdout.write(f"Manifest: {result.manifest}")
        self.stdout.write(
            self.style.SUCCESS(f"Newest audit hash (keep it elsewhere): {result.last_audit_hash}")
        )
        if result.last_audit_id is not None:
            self.stdout.write(
                "Check the live chain still holds it: manage.py verify_audit --expect-head "
                f"{result.last_audit_id}:{result.last_audit_hash}"
            )
