"""Disclosure control for anonymised statistics, as pure functions over pandas frames.

A table arrives already aggregated: one row per cell, per line total (a dimension rolled up,
its value missing) and the grand total, each with `people`, the number of distinct people
it was built from. Every output of one table for one period (each grouping, each audience)
is a slice of one set of figures protected together (`joint_withheld`):

- periods are whole, ended calendar quarters: no two allowed periods overlap or nest, so
  one period's figures cannot be subtracted from another's;
- k is configured per audience (HR, board), never a query parameter;
- head-counts are rounded down to a multiple of 5 and a figure stands only if its rounded
  head-count reaches k, so everything published about a count depends on its block of 5
  alone, whatever k is asked for;
- primary suppression: a figure whose rounded head-count is under k is withheld;
- secondary suppression, over every total any output publishes (line totals, grand total,
  a unit kind over its units, the same figure in another grouping): a total's withheld
  members are none, or at least two covering k or more people together (counted safely:
  the largest of them, or the total's people missing from the published members); and no
  single withheld figure under k follows from the published ones by any combination of
  sums and differences (a linear audit); the stricter audience withholds everything the
  other does, and more;
- hours to whole hours, rates to whole per cent; medians and rates exist only where the
  figure stands.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

MIN_K = 5
ROUNDING = 5
SUPPRESSED = "suppressed"
K_TOO_SMALL = f"k must be at least {MIN_K}."
K_FROM_CONFIGURATION = "k is set by configuration; choose audience=hr or audience=board."
AUDIENCES = ("hr", "board")
BAD_AUDIENCE = "Choose audience=hr or audience=board."


@dataclass(frozen=True)
class Protection:
    """The k of one output, and every configured k (ascending): the stricter audiences'
    patterns are built on the laxer ones', so no two outputs together show more than one."""

    k: int
    rounding: int = ROUNDING
    ladder: tuple[int, ...] = ()
    audience: str = "hr"

    def __post_init__(self) -> None:
        if self.k < MIN_K or any(k < MIN_K for k in self.ladder):
            raise ValueError(K_TOO_SMALL)
        object.__setattr__(self, "ladder", tuple(sorted({*self.ladder, self.k})))


def protection_for(audience: str, *, hr_k: int, board_k: int) -> Protection:
    """The configured protection of an audience; ValueError(BAD_AUDIENCE) for any other."""
    ks = {"hr": hr_k, "board": board_k}
    if audience not in ks:
        raise ValueError(BAD_AUDIENCE)
    return Protection(ks[audience], ladder=(hr_k, board_k), audience=audience)


def stands(people: np.ndarray, k: int, base: int = ROUNDING) -> np.ndarray:
    """Which figures may stand on their own: the rounded head-count reaches k (so the true
    one does too, and the answer depends on the block of `base` alone)."""
    standing: np.ndarray = np.floor(np.nan_to_num(people) / base) * base >= k
    return standing


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


# A withheld figure counts as fixed by the published ones when its leverage (see
# `recoverable`) is within this of 1. Rounding moves a leverage by far less; a figure left
# free moves it by far more (by 1/L for a free combination of L figures); a figure this
# close to 1 is withheld rather than trusted to be free.
FIXED_WITHIN = 1e-6
# The Gram matrix is decomposed only where its spectrum separates clearly: eigenvalues
# under `m * eps` of the largest are zero; any other under this share of the largest sends
# the audit to the slower singular value decomposition of the equations themselves.
WELL_CONDITIONED = 1e-5


def _equations(
    withheld: np.ndarray, pairs: Sequence[tuple[np.ndarray, int | None]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Every published total's equation (its members minus itself) over the withheld
    figures, as sparse (equation, figure, coefficient) entries, figures numbered among the
    withheld; equations with no withheld figure are left out. And how many equations."""
    column = np.cumsum(withheld) - 1  # a withheld figure's number among the withheld
    equations: list[np.ndarray] = []
    figures: list[np.ndarray] = []
    coefficients: list[np.ndarray] = []
    for members, total in pairs:
        if total is None:
            continue
        parts = [column[members[withheld[members]]]]
        signs = [np.ones(len(parts[0]))]
        if withheld[total]:
            parts.append(column[[total]])
            signs.append(-np.ones(1))
        figures.append(np.concatenate(parts))
        coefficients.append(np.concatenate(signs))
        equations.append(np.full(len(figures[-1]), len(equations)))
    if not equations:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), 0
    entries = pd.DataFrame({
        "equation": np.concatenate(equations),
        "figure": np.concatenate(figures),
        "coefficient": np.concatenate(coefficients),
    })  # fmt: skip
    summed = entries.groupby(["equation", "figure"])["coefficient"].sum().reset_index()
    summed = summed[summed["coefficient"] != 0]  # a figure both added and taken away
    kept, number = np.unique(summed["equation"].to_numpy(), return_inverse=True)
    return (
        number,
        summed["figure"].to_numpy(),
        summed["coefficient"].to_numpy(dtype=float),
        len(kept),
    )


def _pairs(
    equation: np.ndarray, figure: np.ndarray, coefficient: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every ordered pair of entries of the same figure, as (equation, other equation,
    product of their coefficients) arrays, one offset at a time: A A' is their sum. A figure
    is in a few equations, so there are a few offsets and nothing is held for long."""
    order = np.argsort(figure, kind="stable")
    by_figure, rows, values = figure[order], equation[order], coefficient[order]
    yield rows, rows, values * values
    for shift in range(1, len(rows)):
        same = by_figure[shift:] == by_figure[:-shift]
        if not same.any():
            return
        first, second = rows[:-shift][same], rows[shift:][same]
        product = values[:-shift][same] * values[shift:][same]
        yield first, second, product
        yield second, first, product


def _independent(pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], m: int) -> np.ndarray:
    """Equations sharing no figure with one another, chosen greedily, those that share
    fewest first (each unit's line over its months, say: the months' lines meet them all)."""
    firsts, seconds = [], []
    for first, second, _product in pairs:
        apart = first != second
        firsts.append(first[apart])
        seconds.append(second[apart])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    order = np.argsort(first, kind="stable")
    first, second = first[order], second[order]
    starts = np.searchsorted(first, np.arange(m + 1))
    chosen = np.zeros(m, dtype=bool)
    blocked = np.zeros(m, dtype=bool)
    for row in np.argsort(np.diff(starts), kind="stable"):
        if not blocked[row]:
            chosen[row] = True
            blocked[second[starts[row] : starts[row + 1]]] = True
    return chosen


def _leverage_from_gram(
    equation: np.ndarray, figure: np.ndarray, coefficient: np.ndarray, m: int, n: int
) -> np.ndarray | None:
    """Each figure's leverage a_j' G^- a_j, from the Gram matrix G = A A' of the sparse
    equations A: any generalised inverse G^- gives the same value, a_j being in G's range.
    The equations that share no figure with one another (`_independent`) form a diagonal
    block D of G; with B and C the rest, G^- is built from D and the pseudo-inverse of the
    Schur complement S = C - B' D^-1 B alone, and a_j' G^- a_j = a_I' D^-1 a_I + w' S^+ w
    with w = a_C - B' D^-1 a_I. Only S, as large as the other equations (the months'
    lines, say), is decomposed: memory in the entries and S, never m x n nor m x m.
    None where S's spectrum does not separate clearly (see WELL_CONDITIONED)."""
    system = (equation, figure, coefficient)
    chosen = _independent(_pairs(*system), m)
    position = np.zeros(m, dtype=int)  # an equation's place among the chosen, or the others
    position[chosen] = np.arange(int(chosen.sum()))
    position[~chosen] = np.arange(int((~chosen).sum()))
    diagonal = np.zeros(m)
    b = np.zeros((int(chosen.sum()), m - int(chosen.sum())))
    c = np.zeros((m - len(b), m - len(b)))
    for first, second, product in _pairs(*system):  # summed into the blocks as they come
        own = first == second
        np.add.at(diagonal, first[own], product[own])
        to_other = chosen[first] & ~chosen[second]
        np.add.at(b, (position[first[to_other]], position[second[to_other]]), product[to_other])
        among = ~chosen[first] & ~chosen[second]
        np.add.at(c, (position[first[among]], position[second[among]]), product[among])
    d = diagonal[chosen]
    schur = c - (b / d[:, None]).T @ b
    values, vectors = np.linalg.eigh(schur)
    scale = float(np.abs(np.diag(c)).max(initial=1.0))
    kept = values > scale * max(len(values), 1) * np.finfo(float).eps * 10
    if np.any(kept & (values < WELL_CONDITIONED * scale)):
        return None
    basis = vectors[:, kept] / np.sqrt(values[kept])
    # The chosen equations' share: a figure is in one of them at most.
    in_chosen = chosen[equation]
    rows = position[equation]
    leverage = np.bincount(
        figure[in_chosen], weights=coefficient[in_chosen] ** 2 / d[rows[in_chosen]], minlength=n
    )
    # The Schur complement's share, a block of figures at a time (bounded memory).
    order = np.argsort(figure, kind="stable")
    sorted_figure = figure[order]
    block = max(1, 50_000 // max(len(values), 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        picked = order[np.searchsorted(sorted_figure, start) : np.searchsorted(sorted_figure, stop)]
        w = np.zeros((stop - start, len(values)))
        other = picked[~in_chosen[picked]]
        w[figure[other] - start, rows[other]] = coefficient[other]
        mine = picked[in_chosen[picked]]
        w[figure[mine] - start] -= (coefficient[mine] / d[rows[mine]])[:, None] * b[rows[mine]]
        leverage[start:stop] += ((w @ basis) ** 2).sum(axis=1)
    return leverage


def _leverage_from_svd(
    equation: np.ndarray, figure: np.ndarray, coefficient: np.ndarray, m: int, n: int
) -> np.ndarray:
    """The same leverages from the singular value decomposition of A itself (dense, m x n):
    the squared norm of each column of the row space's orthonormal basis."""
    matrix = np.zeros((m, n))
    np.add.at(matrix, (equation, figure), coefficient)
    _u, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    rank = int((singular > 1e-9 * max(1.0, float(singular.max(initial=0.0)))).sum())
    leverage: np.ndarray = (vt[:rank] ** 2).sum(axis=0)
    return leverage


def recoverable(withheld: np.ndarray, pairs: Sequence[tuple[np.ndarray, int | None]]) -> np.ndarray:
    """Which withheld figures follow exactly from the published ones: every published total
    is the sum of its members, so a withheld figure is recoverable when its unit vector lies
    in the row space of those equations A over the withheld figures (zero in every solution
    of the homogeneous system), that is when its leverage, the squared length of its unit
    vector's projection on that row space, is 1. The leverages come from the Gram matrix
    A A', as small as the number of equations whatever the number of withheld figures,
    or from A's own decomposition where the Gram matrix is too ill-conditioned to trust."""
    hidden = np.flatnonzero(withheld)
    result = np.zeros(len(withheld), dtype=bool)
    equation, figure, coefficient, m = _equations(withheld, pairs)
    if not m:
        return result
    system = (equation, figure, coefficient, m, len(hidden))
    leverage = _leverage_from_gram(*system)
    if leverage is None:
        leverage = _leverage_from_svd(*system)
    result[hidden[leverage > 1 - FIXED_WITHIN]] = True
    return result


def _secondary(
    withheld: np.ndarray,
    counts: np.ndarray,
    pairs: Sequence[tuple[np.ndarray, int | None]],
    k: int,
) -> np.ndarray:
    """Withhold more until every published total's withheld members are none, or at least
    two covering k or more people, and no withheld figure under k is recoverable."""
    withheld = withheld.copy()

    def hidden_people(members: np.ndarray, total: int) -> float:
        """At least how many distinct people the withheld members cover together: no fewer
        than the largest of them, nor than the total's people missing from the published
        ones (a person may be in several members, so their counts do not add up)."""
        hidden = withheld[members]
        return max(
            float(counts[members[hidden]].max()),
            float(counts[total] - counts[members[~hidden]].sum()),
        )

    def hide_smallest(members: np.ndarray, total: int | None) -> bool:
        candidates = members[~withheld[members]]
        if len(candidates):
            withheld[candidates[np.argmin(counts[candidates])]] = True
            return True
        if total is not None and not withheld[total]:
            withheld[total] = True
            return True
        return False

    while True:
        changed = False
        for members, total in pairs:
            if total is None or withheld[total]:
                continue  # no published total to subtract from
            hidden = members[withheld[members]]
            if not len(hidden) or (len(hidden) >= 2 and hidden_people(members, total) >= k):
                continue
            changed = hide_smallest(members, total) or changed
        if changed:
            continue
        leaked = np.flatnonzero(recoverable(withheld, pairs) & (counts < k))
        if not len(leaked):
            return withheld
        target = int(leaked[0])
        touching = [(m, t) for m, t in pairs if t is not None and (t == target or target in m)]
        if not any(hide_smallest(m, t) for m, t in touching):  # pragma: no cover - defensive
            withheld[:] = True
            return withheld


def suppression(
    frame: pd.DataFrame, dims: Sequence[str], k: int, people: str = "people"
) -> pd.Series:
    """Which rows of one table to withhold (the table alone: `joint_withheld` for outputs
    that must agree with one another)."""
    counts = frame[people].fillna(0).to_numpy(dtype=float)
    withheld = _secondary(~stands(counts, k), counts, _line_positions(frame, dims), k)
    return pd.Series(withheld, index=frame.index)


# --- One protection for every output of a period ------------------------------------------------

Key = tuple[Any, ...]


def _key_frame(
    frame: pd.DataFrame, dims: Sequence[str], universe: Sequence[str], kind_of: Mapping[Any, Any]
) -> pd.DataFrame:
    """What each row counts, whatever grouping it came from: one column per dimension of
    the universe, None where rolled up or absent; a unit stands for its kind too. A
    dimension outside the universe (the quarter of a one-quarter period) adds nothing."""
    columns = {}
    for d in universe:
        values = frame[d].astype(object) if d in dims else pd.Series(None, index=frame.index)
        columns[d] = values.astype(object).where(values.notna(), None)
    if "unit" in columns and "unit_kind" in columns:
        kind = columns["unit"].map(kind_of)
        known = columns["unit"].notna() & kind.notna()
        columns["unit_kind"] = columns["unit_kind"].where(~known, kind)
    return pd.DataFrame(columns).reset_index(drop=True)


def _figures(
    frames: Sequence[tuple[pd.DataFrame, Sequence[str]]],
    universe: list[str],
    kind_of: Mapping[Any, Any],
    people: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every figure the frames publish, once: their keys (one column per dimension of the
    universe), each frame row's figure (frames one after the other) and each figure's
    largest head-count. Figures come in one order whatever the grouping asked for, so every
    request decides alike: by dimension, rolled up first, then by the value's text."""
    parts = []
    for frame, dims in frames:
        keys = _key_frame(frame, dims, universe, kind_of)
        keys["_count"] = pd.to_numeric(frame[people], errors="coerce").fillna(0.0).to_numpy(float)
        parts.append(keys)
    rows = pd.concat(parts, ignore_index=True)
    figure_of_row = rows.groupby(universe, dropna=False, sort=False).ngroup().to_numpy()
    _ids, first_row = np.unique(figure_of_row, return_index=True)
    figures = rows.iloc[first_row][universe].reset_index(drop=True)
    order_by: dict[str, pd.Series] = {}
    for n, d in enumerate(universe):
        present = figures[d].notna()
        order_by[f"present_{n}"] = present
        order_by[f"text_{n}"] = figures[d].map(str).where(present, "")
    order = pd.DataFrame(order_by).sort_values(list(order_by), kind="mergesort").index.to_numpy()
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    position_of_row = rank[figure_of_row]
    counts = np.zeros(len(order))
    np.maximum.at(counts, position_of_row, rows["_count"].to_numpy())
    return figures.iloc[order].reset_index(drop=True), position_of_row, counts


def _totals(
    frames: Sequence[tuple[pd.DataFrame, Sequence[str]]],
    figures: pd.DataFrame,
    position_of_row: np.ndarray,
    universe: list[str],
) -> list[tuple[np.ndarray, int | None]]:
    """Every published total and the figures it adds up, each once, in figure positions:
    each frame's line totals, and a unit kind's figure over its units' (the same figure with
    the unit rolled up). In the order of the members' positions, then the total's (their
    big-endian bytes sort as the positions do), so `_secondary` meets them alike each time."""
    found: dict[tuple[bytes, int], np.ndarray] = {}
    offset = 0
    for frame, dims in frames:
        positions = position_of_row[offset : offset + len(frame)]
        offset += len(frame)
        for members, total in _line_positions(frame.reset_index(drop=True), dims):
            if total is None:
                continue
            member_ids = np.setdiff1d(positions[members], [positions[total]])
            if len(member_ids):
                found[(member_ids.astype(">i8").tobytes(), int(positions[total]))] = member_ids
    if "unit" in universe and "unit_kind" in universe:
        below = figures[figures["unit"].notna()].assign(unit=None).reset_index()
        parents = figures[figures["unit_kind"].notna()].reset_index()
        joined = below.merge(parents.rename(columns={"index": "parent"}), on=universe)
        order = np.argsort(joined["parent"].to_numpy(), kind="stable")
        parent, member = joined["parent"].to_numpy()[order], joined["index"].to_numpy()[order]
        _parents, starts = np.unique(parent, return_index=True)
        for start, stop in itertools.pairwise([*starts, len(parent)]):
            member_ids = np.unique(member[start:stop])
            found[(member_ids.astype(">i8").tobytes(), int(parent[start]))] = member_ids
    return [(found[key], key[1]) for key in sorted(found)]


def joint_withheld(
    frames: Sequence[tuple[pd.DataFrame, Sequence[str]]],
    *,
    universe: Sequence[str],
    kind_of: Mapping[Any, Any],
    ks: Sequence[int],
    people: str = "people",
) -> dict[int, dict[Key, bool]]:
    """One suppression pattern per k over every figure the given groupings publish, each
    figure once: a total in one table and a cell in another are one figure, and a unit
    kind's figure is a total over its units'. For ascending k, each pattern starts from the
    previous one, so a stricter audience never shows what a laxer one withholds.

    Keys are worked on as columns, not as a Python tuple per row: at national size the
    groupings publish some 70,000 figures."""
    universe = list(universe)
    figures, position_of_row, counts = _figures(frames, universe, kind_of, people)
    pairs = _totals(frames, figures, position_of_row, universe)
    decided: dict[int, np.ndarray] = {}
    withheld = np.zeros(len(counts), dtype=bool)
    for k in sorted(set(ks)):
        withheld = _secondary(withheld | ~stands(counts, k), counts, pairs, k)
        decided[k] = withheld
    keys = list(figures.itertuples(index=False, name=None))
    return {k: dict(zip(keys, hidden.tolist(), strict=True)) for k, hidden in decided.items()}


def withheld_rows(
    frame: pd.DataFrame,
    dims: Sequence[str],
    pattern: Mapping[Key, bool],
    *,
    universe: Sequence[str],
    kind_of: Mapping[Any, Any],
) -> pd.Series:
    """A table's rows withheld under a joint pattern (a row the pattern lacks is withheld)."""
    keys = _key_frame(frame, dims, universe, kind_of).itertuples(index=False, name=None)
    flags = [pattern.get(key, True) for key in keys]
    return pd.Series(flags, index=frame.index, dtype=bool)


def protect(
    frame: pd.DataFrame,
    *,
    dims: Sequence[str],
    protection: Protection,
    counts: Iterable[str] = (),
    hours: Iterable[str] = (),
    rates: Iterable[str] = (),
    people: str = "people",
    withheld: pd.Series | None = None,
) -> pd.DataFrame:
    """Withhold, round and mark a table; the result is what may be published."""
    if withheld is None:
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
        down = np.floor(values / protection.rounding) * protection.rounding
        out[column] = published(column, down, values)
    for column in (*hours, *rates):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        out[column] = published(column, np.round(values), values)
    out[SUPPRESSED] = withheld.to_numpy()
    return out


# --- Periods and groupings -------------------------------------------------------------------

PERIOD_DIMS = ("month", "quarter")
MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
BAD_MONTH = "Give a whole month as YYYY-MM, from 1900-01 to 2999-12."
BAD_QUARTER = "Give a quarter as YYYYQn, e.g. 2027Q1."
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


BAD_PERIOD = (
    "Give one ended quarter: period=YYYYQn (e.g. 2027Q1), or from and to as its first and "
    "last month (from=2027-01&to=2027-03). The quarter in progress is not published."
)


def quarter_label(start: date) -> str:
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


def quarter_of(day: date) -> tuple[date, date]:
    """The calendar quarter holding `day`: its first day and the first day after it."""
    return parse_quarter(quarter_label(day))


def last_ended_quarter(today: date) -> str:
    start, _end = quarter_of(today)
    return quarter_label(
        date(start.year - (start.month == 1), 10 if start.month == 1 else start.month - 3, 1)
    )


def ended_quarter(text: str, today: date) -> tuple[date, date]:
    """An ended quarter's bounds (half-open); ValueError(BAD_PERIOD) for anything else,
    the quarter in progress and later ones included."""
    try:
        start, end = parse_quarter(text)
    except ValueError as error:
        raise ValueError(BAD_PERIOD) from error
    if end > today or start.year < 1900:
        raise ValueError(BAD_PERIOD)
    return start, end


def quarter_from_months(first: date, last: date) -> str:
    """`from`/`to` as whole months: allowed only as exactly one quarter's first and last."""
    start, end = quarter_of(first)
    if first != start or month_after(last) != end:
        raise ValueError(BAD_PERIOD)
    return quarter_label(start)


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


def groupings(allowed: Sequence[str], *, most: int = 2) -> list[list[str]]:
    """Every grouping `check_grouping` accepts from `allowed` (at most `most` dimensions),
    each in its checked order: what a form may offer."""
    found: list[list[str]] = []
    for size in range(1, most + 1):
        for combination in itertools.combinations(allowed, size):
            try:
                dims = check_grouping(combination, allowed)
            except ValueError:
                continue
            if dims not in found:
                found.append(dims)
    return found


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
