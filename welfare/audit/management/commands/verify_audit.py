from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from welfare.audit.selectors import audit_chain_first_break


class Command(BaseCommand):
    help = "Walk the audit trail's hash chain and name the first event that does not verify."

    def handle(self, *args: Any, **options: Any) -> None:
        counted, broken = audit_chain_first_break()
        if broken is not None:
            raise CommandError(
                f"Audit chain broken at event {broken.event_id}: {broken.reason} "
                f"({counted} events read)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {counted} events verified."))
