from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from welfare.casework.services import rotate_encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every case note and screening with the first key in FIELD_ENCRYPTION_KEYS. "
        "Add the new key in front, run this, then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = rotate_encryption()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} records with the current key."))
