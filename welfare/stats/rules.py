"""Disclosure control for anonymised statistics, as pure functions over pandas frames.

A table arrives already aggregated: one row per cell, per line total (a dimension rolled up,
its value missing) and the grand total, each with `people`, the number of distinct people
it was built from. Then:

- primary suppression: a cell or total from fewer than k people is withheld;
- secondary suppression: wherever a published total would give back a single withheld
  member by subtraction (exactly one withheld member in its line), the next smallest
  member is withheld too (or, with none left, the total), until no line has exactly one;
- counts are rounded to the nearest 5, hours to whole hours, rates to whole per cent;
  medians and rates exist only where the cell stands.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

MIN_K = 5
SUPPRESSED = "suppressed"
K_TOO_SMALL = f"k must be at least {MIN_K}."


@dataclass(frozen=True)
class Protection:
    k: int
    rounding: int = 5

    def __post_init__(self) -> None:
        if self.k < MIN_K:
            raise ValueError(K_TOO_SMALL)


def round_count(value: float, base: int = 5) -> int:
    """Nearest multiple of `base` (halves up), so a published count is within base/2."""
    return int(math.floor(value / base + 0.5) * base)


def _line_positions(
    frame: pd.DataFrame, dims: Sequence[str]
) -> list[tuple[np.ndarray, int | None]]:
    """(member positions, total position) for every published total, in row positions."""
    result: list[tuple[np.ndarray, int | None]] = []
    if not dims:
        return result
    rolled = {dim: frame[dim].isna().to_numpy() for dim in dims}
    grand = np.flatnonzero(np.logical_and.reduce(list(rolled.values())))
    grand_total = int(grand[0]) if len(grand) else None
    if len(dims) == 1:
        (dim,) = dims
        result.append((np.flatnonzero(~rolled[dim]), grand_total))
        return result
    first, second = dims
    cells = ~rolled[first] & ~rolled[second]
    positions = np.arange(len(frame))
    for dim, other_rolled, mine_rolled in (
        (first, rolled[second], rolled[first]),
        (second, rolled[first], rolled[second]),
    ):
        # The line total for a value: the row with that value and the other dimension rolled up.
        total_at: dict[Any, int] = {}
        for position, value in zip(
            positions[~mine_rolled & other_rolled],
            frame[dim].to_numpy()[~mine_rolled & other_rolled],
            strict=True,
        ):
            total_at.setdefault(value, int(position))
        members = pd.Series(positions[cells]).groupby(frame[dim].to_numpy()[cells], sort=False)
        for value, group in members:
            result.append((group.to_numpy(), total_at.get(value)))
    result.append((np.flatnonzero(~rolled[first] & rolled[second]), grand_total))
    result.append((np.flatnonzero(rolled[first] & ~rolled[second]), grand_total))
    return result


def lines(frame: pd.DataFrame, dims: Sequence[str]) -> list[tuple[pd.Index, Any]]:
    """(members, total) pairs: for every published total, the rows it sums up."""
    return [
        (frame.index[members], frame.index[total] if total is not None else None)
        for members, total in _line_positions(frame, dims)
    ]


def suppression(
    frame: pd.DataFrame, dims: Sequence[str], k: int, people: str = "people"
) -> pd.Series:
    """Which rows to withhold: fewer than k people, then whatever keeps them unrecoverable."""
    counts = frame[people].fillna(0).to_numpy(dtype=float)
    withheld = counts < k
    pairs = _line_positions(frame, dims)
    changed = True
    while changed:
        changed = False
        for members, total in pairs:
            if total is None or withheld[total]:
                continue  # no published total to subtract from
            hidden = withheld[members]
            if int(hidden.sum()) != 1:
                continue
            candidates = members[~hidden]
            if len(candidates) == 0:
                withheld[total] = True
            else:
                withheld[candidates[np.argmin(counts[candidates])]] = True
            changed = True
    return pd.Series(withheld, index=frame.index)


def protect(
    frame: pd.DataFrame,
    *,
    dims: Sequence[str],
    protection: Protection,
    counts: Iterable[str] = (),
    hours: Iterable[str] = (),
    rates: Iterable[str] = (),
    people: str = "people",
) -> pd.DataFrame:
    """Withhold, round and mark a table; the result is what may be published."""
    withheld = suppression(frame, dims, protection.k, people)
    out = frame.copy()

    hidden = withheld.to_numpy()

    def published(column: str, rounded: np.ndarray, values: np.ndarray) -> pd.Series:
        shown = ~(hidden | np.isnan(values))
        result = np.full(len(values), None, dtype=object)
        result[shown] = rounded[shown].astype(np.int64).astype(object)  # ints stay ints
        return pd.Series(result, index=frame.index, dtype=object)

    for column in (people, *counts):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        nearest = np.floor(values / protection.rounding + 0.5) * protection.rounding
        out[column] = published(column, nearest, values)
    for column in (*hours, *rates):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        out[column] = published(column, np.round(values), values)
    out[SUPPRESSED] = withheld.to_numpy()
    return out


# --- Periods and groupings -------------------------------------------------------------------

PERIOD_DIMS = ("month", "quarter")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
BAD_MONTH = "Give a whole month as YYYY-MM, from 1900-01 to 2999-12."
BAD_QUARTER = "Give a quarter as YYYYQn, e.g. 2027Q1."
BAD_RANGE = "The start must not be after the end."
TOO_LONG = "Ask for at most {months} months at a time."
BAD_GROUPING = "Group by one or two of: {allowed} (at most one of {periods})."


def parse_month(text: str) -> date:
    match = MONTH.match(text.strip())
    # Bounded so the periods around it stay representable (a year 10000 would be a 500).
    if not match or not 1900 <= int(match[1]) <= 2999:
        raise ValueError(BAD_MONTH)
    return date(int(match[1]), int(match[2]), 1)


def parse_quarter(text: str) -> tuple[date, date]:
    """First day of the quarter and first day after it."""
    match = QUARTER.match(text.strip().upper())
    if not match:
        raise ValueError(BAD_QUARTER)
    year, quarter = int(match[1]), int(match[2])
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, end


def month_after(day: date) -> date:
    return date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)


def whole_periods(first: date, last: date, dims: Sequence[str]) -> tuple[date, date]:
    """Widen [first month, last month] to whole quarters when grouping by quarter, so two
    overlapping queries cannot be differenced to isolate a person."""
    end = month_after(last)
    if "quarter" in dims:
        first = date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
        while (end.month - 1) % 3:
            end = month_after(end)
    return first, end


def check_grouping(group_by: Sequence[str], allowed: Sequence[str]) -> list[str]:
    dims = [d.strip() for d in group_by if d.strip()]
    periods = [d for d in dims if d in PERIOD_DIMS]
    if (
        not 1 <= len(dims) <= 2
        or len(set(dims)) != len(dims)
        or any(d not in allowed for d in dims)
        or len(periods) > 1
    ):
        raise ValueError(
            BAD_GROUPING.format(allowed=", ".join(allowed), periods=" or ".join(PERIOD_DIMS))
        )
    # A period goes last, so a pivot reads with time across.
    return sorted(dims, key=lambda d: d in PERIOD_DIMS)


# --- Safe exports ----------------------------------------------------------------------------

# A spreadsheet reads a text cell starting with one of these as a formula (OWASP, "CSV
# Injection"); tab and CR too, since some programs strip them and read what follows.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER_PREFIX = "X-Stats-"
_HEADER_UNSAFE = re.compile(r"[^\x20-\x7e]")
_FILE_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet could run, quoted with a leading apostrophe; anything else
    (numbers, negative ones included, booleans, None, other text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def parameter_text(value: Any) -> str:
    """A protection parameter as one line of text: lists comma-joined."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def header_name(key: str) -> str:
    """`k` -> `X-Stats-K`, `group_by` -> `X-Stats-Group-By`."""
    return HEADER_PREFIX + "-".join(part.capitalize() for part in key.split("_") if part)


def parameter_headers(parameters: dict[str, Any]) -> dict[str, str]:
    """One response header per protection parameter, values kept to printable ASCII (a
    header cannot carry a line break, and these carry nothing personal)."""
    return {
        header_name(key): _HEADER_UNSAFE.sub("?", parameter_text(value))
        for key, value in parameters.items()
    }


def export_filename(parameters: dict[str, Any], extension: str) -> str:
    """`welfare-stats-exposure-by-unit-month-2027-01-01-to-2027-03-31-k5.csv`: what, how
    grouped, which period and which k, from the parameters alone."""

    def part(value: Any) -> str:
        return _FILE_UNSAFE.sub("_", parameter_text(value).lower()).strip("_-") or "x"

    dims = "-".join(part(d) for d in parameters.get("group_by") or [])
    period = f"{part(parameters['from'])}-to-{part(parameters['to'])}"
    grouped = f"-by-{dims}" if dims else ""
    return (
        f"welfare-stats-{part(parameters['table'])}{grouped}-{period}"
        f"-k{int(parameters['k'])}.{part(extension)}"
    )
