from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.generate import generate


class Command(BaseCommand):
    help = (
        "Generate synthetic benchmark data (officers, postings, sessions, check-ins...) with COPY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--officers", type=int, default=2000)
        parser.add_argument("--years", type=float, default=2.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--until", help="last day of history, YYYY-MM-DD (default today)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["officers"] < 1 or options["years"] <= 0:
            raise CommandError("--officers must be at least 1 and --years above 0.")
        until = date.fromisoformat(options["until"]) if options["until"] else None
        try:
            counts = generate(
                officers=options["officers"],
                years=options["years"],
                seed=options["seed"],
                until=until,
            )
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(counts.as_dict(), indent=2))
