from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from schedules.runner import run_all


class Command(BaseCommand):
    help = (
        "Run every scheduled job once as of an instant (default: now), to catch up after an "
        "outage or to replay a schedule. Running twice for one instant changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="ISO 8601 instant with offset, e.g. 2027-06-01T06:00:00Z")

    def handle(self, *args: Any, **options: Any) -> None:
        at = None
        if options["at"]:
            try:
                at = parse_datetime(options["at"])
            except ValueError:
                at = None
            if at is None or at.tzinfo is None:
                raise CommandError(
                    "--at must be an ISO 8601 instant with an offset, e.g. 2027-06-01T06:00:00Z."
                )
        for name, result in run_all(at).items():
            self.stdout.write(f"{name}: {result!r}")
