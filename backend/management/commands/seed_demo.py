from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.demo import (
    database_is_empty,
    existing_demo_logins,
    format_logins,
    seed_casework,
    seed_checkins,
    seed_exposure,
    seed_people,
)

REFUSED_IN_PRODUCTION = (
    "seed_demo refuses to run in production (DJANGO_ENV=production): it creates users with "
    "known passwords. Use a development database."
)


class Command(BaseCommand):
    help = "Fill an empty database with a synthetic force and print the demo log-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--show-logins",
            action="store_true",
            help="Seed nothing; print the demo log-ins of a seeded database (none if changed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # It creates an admin with a known password: never on a real force's data.
            raise CommandError(REFUSED_IN_PRODUCTION, returncode=2)
        if options["show_logins"]:
            logins = existing_demo_logins()
            self.stdout.write(format_logins(logins) if logins else "No demo log-ins here.")
            return
        if not database_is_empty():
            self.stdout.write("The database has users already: nothing seeded.")
            logins = existing_demo_logins()
            if logins:
                self.stdout.write(format_logins(logins))
            return
        cast = seed_people(seed=options["seed"])
        sessions = seed_exposure(cast, seed=options["seed"])
        checkins = seed_checkins(cast, seed=options["seed"])
        seed_casework(cast, seed=options["seed"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(cast.units)} units, {len(cast.officers)} officers, "
                f"{sessions} viewing sessions and {checkins} check-ins (all synthetic)."
            )
        )
        self.stdout.write(format_logins(cast.logins))
