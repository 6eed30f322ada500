from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.db_roles import as_owner
from welfare.casework.services import rotate_encryption


class Command(BaseCommand):
    help = (
        "Reseal everything encrypted at rest (case notes, screenings, check-in texts, "
        "restriction reasons, management reports, webhook secrets, TOTP seeds) with the first "
        "key in FIELD_ENCRYPTION_KEYS, bound to its row. Add the new key in front, run this, "
        "then drop the old key once it reports nothing unreadable. Runs as the owner "
        "(DATABASE_OWNER_URL): the application's role may not rewrite clinical text."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        with as_owner():
            rotation = rotate_encryption(batch=options["batch"])
        for table, done in sorted(rotation.tables.items()):
            self.stdout.write(f"{table}: {done.rows} resealed, {done.unreadable} unreadable")
        self.stdout.write(
            self.style.SUCCESS(f"Resealed {rotation.total} records with the current key.")
        )
        if rotation.unreadable:
            self.stderr.write(
                f"{rotation.unreadable} values could not be read with the configured keys and "
                "were left as they were: keep the old keys until they are accounted for."
            )
