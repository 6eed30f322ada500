from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.audit.services import audit_record
from welfare.stats.pack import PACK_K, write_pack
from welfare.stats.rules import MIN_K


class Command(BaseCommand):
    help = "Write a quarter's anonymised statistics (CSV, XLSX, PNG charts) for a board report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quarter", required=True, help="e.g. 2027Q1")
        parser.add_argument("--out", required=True, help="the folder to write to")
        parser.add_argument(
            "--k", type=int, default=PACK_K, help=f"people per cell (default {PACK_K})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["k"] < MIN_K:
            raise CommandError(f"k must be at least {MIN_K}.")
        try:
            paths = write_pack(quarter=options["quarter"], out=Path(options["out"]), k=options["k"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        audit_record(
            actor=None,
            action="stats.pack",
            detail={"quarter": options["quarter"], "k": options["k"]},
        )
        for path in paths:
            self.stdout.write(str(path))
