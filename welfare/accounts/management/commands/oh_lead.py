"""The first occupational health lead of a service that has none (as `createsuperuser` gives
the first administrator); audited as the system's act. Later leads are proposed (by an
administrator or a lead) and approved by another lead, in the web app or the API."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.accounts.models import User
from welfare.accounts.services import oh_lead_set
from welfare.core.errors import DomainError


class Command(BaseCommand):
    help = "Make an occupational health clinician the first OH lead (only while there is none)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError("No user with that user name.")
        try:
            oh_lead_set(actor=None, user=user, lead=True)
        except DomainError as refused:
            raise CommandError(refused.message or str(refused.body())) from refused
        self.stdout.write(f"{user.username} is an occupational health lead.")
