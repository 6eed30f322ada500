"""Records management as plain functions: retention dates, tool versions, backup checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


def _years_on(instant: datetime, years: int) -> datetime:
    """The same wall-clock instant `years` later (or earlier); 29 February becomes the 28th."""
    try:
        return instant.replace(year=instant.year + years)
    except ValueError:
        return instant.replace(year=instant.year + years, day=28)


def years_before(instant: datetime, years: int) -> datetime:
    return _years_on(instant, -years)


def retained_until(last_entry: datetime, years: int) -> datetime:
    """When a record whose last entry is `last_entry` may first be removed."""
    return _years_on(last_entry, years)


def past_retention(last_entry: datetime | None, years: int, now: datetime) -> bool:
    """Kept `years` from the last entry, and removable only once that time is over."""
    return last_entry is not None and retained_until(last_entry, years) <= now


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def tool_major(version_output: str) -> int | None:
    """`pg_dump (PostgreSQL) 16.4` -> 16; None when the text is not a PostgreSQL tool's."""
    match = _VERSION.search(version_output)
    return int(match.group(1)) if match else None


def pick_tool(candidates: Iterable[tuple[str, int]], *, at_least: int) -> str | None:
    """The newest tool whose major version is at least the server's (pg_dump and pg_restore
    refuse, or silently miss features, when older than the server)."""
    usable = [(major, path) for path, major in candidates if major >= at_least]
    if not usable:
        return None
    return max(usable, key=lambda item: item[0])[1]


@dataclass(frozen=True)
class CountMismatch:
    table: str
    expected: int | None
    found: int | None


def count_mismatches(expected: Mapping[str, int], found: Mapping[str, int]) -> list[CountMismatch]:
    """Every table whose row count differs, or that is missing on one side."""
    return [
        CountMismatch(table, expected.get(table), found.get(table))
        for table in sorted(set(expected) | set(found))
        if expected.get(table) != found.get(table)
    ]
