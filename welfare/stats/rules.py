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


def _is_total(frame: pd.DataFrame, dim: str) -> pd.Series:
    return frame[dim].isna()


def lines(frame: pd.DataFrame, dims: Sequence[str]) -> list[tuple[pd.Index, Any]]:
    """(members, total) pairs: for every published total, the rows it sums up."""
    result: list[tuple[pd.Index, Any]] = []
    if not dims:
        return result
    rolled = {dim: _is_total(frame, dim) for dim in dims}
    grand = frame.index[pd.concat(list(rolled.values()), axis=1).all(axis=1)]
    grand_total = grand[0] if len(grand) else None
    if len(dims) == 1:
        (dim,) = dims
        result.append((frame.index[~rolled[dim]], grand_total))
        return result
    first, second = dims
    cells = ~rolled[first] & ~rolled[second]
    for value in frame.loc[cells, first].unique():
        members = frame.index[cells & (frame[first] == value)]
        total = frame.index[~rolled[first] & rolled[second] & (frame[first] == value)]
        result.append((members, total[0] if len(total) else None))
    for value in frame.loc[cells, second].unique():
        members = frame.index[cells & (frame[second] == value)]
        total = frame.index[rolled[first] & ~rolled[second] & (frame[second] == value)]
        result.append((members, total[0] if len(total) else None))
    result.append((frame.index[~rolled[first] & rolled[second]], grand_total))
    result.append((frame.index[rolled[first] & ~rolled[second]], grand_total))
    return result


def suppression(
    frame: pd.DataFrame, dims: Sequence[str], k: int, people: str = "people"
) -> pd.Series:
    """Which rows to withhold: fewer than k people, then whatever keeps them unrecoverable."""
    withheld = frame[people].fillna(0) < k
    pairs = lines(frame, dims)
    changed = True
    while changed:
        changed = False
        for members, total in pairs:
            if total is None or withheld[total]:
                continue  # no published total to subtract from
            hidden = withheld[members]
            if int(hidden.sum()) != 1:
                continue
            candidates = frame.loc[members[~hidden.to_numpy()], people]
            if len(candidates) == 0:
                withheld[total] = True
            else:
                withheld[candidates.idxmin()] = True
            changed = True
    return withheld


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

    def published(column: str, shape: Any) -> pd.Series:
        values = [
            None if hide or pd.isna(value) else shape(float(value))
            for value, hide in zip(frame[column], withheld, strict=True)
        ]
        return pd.Series(values, index=frame.index, dtype=object)  # ints stay ints beside None

    for column in (people, *counts):
        out[column] = published(column, lambda v: round_count(v, protection.rounding))
    for column in (*hours, *rates):
        out[column] = published(column, round)
    out[SUPPRESSED] = withheld.to_numpy()
    return out


# --- Periods and groupings -------------------------------------------------------------------

PERIOD_DIMS = ("month", "quarter")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
BAD_MONTH = "Give a whole month as YYYY-MM."
BAD_QUARTER = "Give a quarter as YYYYQn, e.g. 2027Q1."
BAD_RANGE = "The start must not be after the end."
TOO_LONG = "Ask for at most {months} months at a time."
BAD_GROUPING = "Group by one or two of: {allowed} (at most one of {periods})."


def parse_month(text: str) -> date:
    match = MONTH.match(text.strip())
    if not match:
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
