from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.people.models import Officer
from welfare.records.subject_access import person_export


class Command(BaseCommand):
    help = (
        "Write everything held about one officer (JSON) for a subject access request. The file "
        "holds clinical data: it is created readable by its owner only, and the export is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--officer", required=True, type=int, help="The officer's id.")
        parser.add_argument("--out", required=True, type=Path, help="Where to write the JSON.")
        parser.add_argument("--reference", default="", help="The request's case reference.")

    def handle(self, *args: Any, **options: Any) -> None:
        officer = Officer.objects.select_related("user").filter(pk=options["officer"]).first()
        if officer is None:
            raise CommandError(f"No officer with id {options['officer']}.")
        out: Path = options["out"]
        if out.exists():
            raise CommandError(f"{out} exists: choose a new file.")
        data = person_export(officer=officer, reference=options["reference"])
        out.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
        sections = sum(1 for value in data.values() if isinstance(value, list))
        self.stdout.write(self.style.SUCCESS(f"Wrote {out} ({sections} sections)."))
