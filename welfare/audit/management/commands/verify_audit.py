from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare.audit.rules import BEFORE_START, Head, HeadFinding, parse_anchors, parse_head
from welfare.audit.selectors import audit_chain_verify

_STATUS_WORDS = {
    "truncated": "TRUNCATED: newer than the newest event, the tail was cut",
    "missing": "MISSING: removed from inside the chain",
    "differs": "REWRITTEN: the event is there with another hash",
}


def _head_arg(value: str) -> Head:
    try:
        return parse_head(value)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _anchors_in(path: Path) -> list[Head]:
    try:
        return parse_anchors(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"Cannot read anchor file {path}: {exc.strerror}.") from exc
    except ValueError as exc:
        raise CommandError(f"Anchor file {path} is not JSON lines of anchors: {exc}") from exc


def _describe(finding: HeadFinding) -> str:
    return f"head {finding.head} {_STATUS_WORDS.get(finding.status, finding.status)}"


class Command(BaseCommand):
    help = (
        "Walk the audit trail's keyed hash chain and name the first event that does not "
        "verify; with --expect-head or --anchor-file, also say whether each head kept "
        "elsewhere is still in the chain (a cut tail is TRUNCATED)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expect-head",
            action="append",
            default=[],
            metavar="ID:HASH",
            help="A head kept elsewhere (an anchor, a backup manifest's audit last_id and "
            "last_hash), as ID:HASH or HASH; repeatable.",
        )
        parser.add_argument(
            "--anchor-file",
            action="append",
            default=[],
            type=Path,
            metavar="PATH",
            help="An AUDIT_ANCHOR_FILE (JSON lines) or a backup manifest: check every head "
            "in it; repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        heads = [_head_arg(value) for value in options["expect_head"]]
        for path in options["anchor_file"]:
            heads.extend(_anchors_in(path))
        report = audit_chain_verify(heads=heads)
        failed = [finding for finding in report.heads if not finding.ok]
        problems: list[str] = []
        if report.broken is not None:
            problems.append(
                f"Audit chain broken at event {report.broken.event_id}: {report.broken.reason} "
                f"({report.counted} events read)."
            )
        if failed:
            shown = "; ".join(_describe(finding) for finding in failed[:10])
            more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
            problems.append(
                f"Audit chain TRUNCATED or rewritten: {len(failed)} of {len(heads)} kept heads "
                f"are not in it ({shown}{more}); the newest event is {report.last_id}."
            )
        if problems:
            raise CommandError(" ".join(problems))
        retained = sum(finding.status == BEFORE_START for finding in report.heads)
        kept = (
            f"; {len(heads)} kept heads present"
            + (f" ({retained} since cut by retention)" if retained else "")
            if heads
            else ""
        )
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.counted} events verified{kept}.")
        )
