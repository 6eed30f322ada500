from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.db_roles import as_owner
from welfare.records.backup import BackupError, restore_verify


class Command(BaseCommand):
    help = (
        "Restore a backup into a scratch database on the same server and check its checksum, "
        "row counts and audit hash chain against the manifest; the scratch database is dropped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A dump written by `manage.py backup`.")
        parser.add_argument(
            "--manifest",
            type=Path,
            help="The manifest, if not beside the dump (FILE.manifest.json).",
        )
        parser.add_argument(
            "--expect-hash", help="The newest audit hash kept elsewhere when the backup was taken."
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the scratch database for inspection."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # As the owner (DATABASE_OWNER_URL): it creates and drops a scratch database.
            with as_owner():
                result = restore_verify(
                    dump=options["file"],
                    manifest=options["manifest"],
                    expect_hash=options["expect_hash"],
                    keep=options["keep"],
                )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {result.tables} tables, {result.rows} rows into {result.database}"
            + (" (kept)" if options["keep"] else " (dropped)")
        )
        self.stdout.write(f"Audit events verified: {result.chain.counted}")
        if not result.ok:
            raise CommandError("Backup does not verify: " + "; ".join(result.problems))
        self.stdout.write(
            self.style.SUCCESS(f"Backup verified; newest audit hash {result.chain.last_hash}")
        )
