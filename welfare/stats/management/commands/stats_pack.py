from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.audit.services import audit_record
from welfare.core import clock
from welfare.stats.pack import PACK_AUDIENCE, write_pack
from welfare.stats.rules import AUDIENCES


class Command(BaseCommand):
    help = "Write an ended quarter's anonymised statistics (CSV, XLSX, PNG charts) for a report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quarter", required=True, help="an ended quarter, e.g. 2027Q1")
        parser.add_argument("--out", required=True, help="the folder to write to")
        parser.add_argument(
            "--audience",
            choices=AUDIENCES,
            default=PACK_AUDIENCE,
            help=(
                f"whose protection (default {PACK_AUDIENCE}): k comes from STATS_K_HR or "
                "STATS_K_BOARD"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            paths = write_pack(
                quarter=options["quarter"],
                out=Path(options["out"]),
                today=clock.today(),
                audience=options["audience"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        audit_record(
            actor=None,
            action="stats.pack",
            detail={"quarter": options["quarter"], "audience": options["audience"]},
        )
        for path in paths:
            self.stdout.write(str(path))
