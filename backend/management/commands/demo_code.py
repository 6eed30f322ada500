from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from backend.demo import DEMO_PASSWORD
from welfare.accounts.models import SealedTOTPDevice, User


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo user (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_code is for development databases only.")
        user = User.objects.filter(username=options["username"]).first()
        if user is None or not user.check_password(DEMO_PASSWORD):
            raise CommandError("Not a demo user (or the demo password was changed).")
        device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise CommandError("This user has no confirmed device.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        self.stdout.write(f"{totp.token():0{device.digits}d}")
