from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backend.db_roles import as_owner
from welfare.casework.services import rotate_encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every case note and screening with the first key in FIELD_ENCRYPTION_KEYS. "
        "Add the new key in front, run this, then drop the old key. Runs as the owner "
        "(DATABASE_OWNER_URL): the application's role may not rewrite clinical text."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with as_owner():
            count = rotate_encryption()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} records with the current key."))
