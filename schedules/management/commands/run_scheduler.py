from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.heap import freeze_startup_heap
from schedules.process import SchedulerProcess


class Command(BaseCommand):
    help = (
        "Run the scheduler. Only one instance runs jobs (a PostgreSQL advisory lock decides); "
        "others stand by and take over when it stops."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--instance", help="A name for this instance (default host:pid).")

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_startup_heap()
        code = SchedulerProcess(instance=options.get("instance")).run()
        if code:
            sys.exit(code)
