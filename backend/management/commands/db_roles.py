"""`manage.py db_roles [--migrate]`: as the owner (DATABASE_OWNER_URL), migrate if asked,
then create or update the application's and retention's roles (named, with their passwords,
by DATABASE_URL and DATABASE_RETENTION_URL) and grant them exactly what backend.db_roles
lists. Idempotent: run it after every migration (compose's migrate step does)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from backend.db_roles import RoleSpecError, apply_roles, as_owner, configured_roles


class Command(BaseCommand):
    help = "Migrate (with --migrate) and set up the application's and retention's roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--migrate", action="store_true", help="run migrations first")

    def handle(self, *args: Any, **options: Any) -> None:
        roles = configured_roles()
        if roles.app == roles.owner:
            # One role for everything: a development database reached as its superuser.
            if settings.PRODUCTION:
                raise CommandError(
                    "DATABASE_URL connects as the owner (DATABASE_OWNER_URL): the application "
                    "must have its own role. See README, Database roles."
                )
            if options["migrate"]:
                call_command("migrate", interactive=False, verbosity=options["verbosity"])
            self.stderr.write(
                "DATABASE_URL connects as the owner: no roles set up (development only)."
            )
            return
        try:
            roles.check()
        except RoleSpecError as error:
            raise CommandError(str(error)) from error
        passwords = {
            roles.app: str(settings.DATABASES["default"]["PASSWORD"] or "") or None,
            roles.retention: str(settings.DATABASES["retention"]["PASSWORD"] or "") or None,
        }
        with as_owner():
            if options["migrate"]:
                call_command("migrate", interactive=False, verbosity=options["verbosity"])
            with transaction.atomic(), connection.cursor() as cursor:
                try:
                    statements = apply_roles(cursor, roles, passwords)
                except RoleSpecError as error:
                    raise CommandError(str(error)) from error
        self.stdout.write(
            f"Roles set up: {roles.app} (application), {roles.retention} (retention); "
            f"{len(statements)} statements."
        )
