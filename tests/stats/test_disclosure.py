"""Disclosure control across queries, as property tests over random people (no database):
no combination of the outputs HR may ask for gives back a figure from fewer than k people.

The attacks, from issue 19: differencing (a total minus the published parts, across every
grouping of the same period, a unit kind minus its units included), overlapping periods
(two months minus one), and stepping k (a cell appears at k = n and not at n + 1)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare.stats import rules

KIND_OF = {"A": "cse", "B": "cse", "C": "cyber", "D": "cyber"}
MONTHS = ["2027-01", "2027-02", "2027-03"]
UNIVERSE = ["month", "unit", "unit_kind"]  # one quarter: the quarter is the period itself
GROUPINGS = [
    ["unit"],
    ["unit_kind"],
    ["month"],
    ["quarter"],
    ["unit", "unit_kind"],
    ["unit", "month"],
    ["unit", "quarter"],
    ["unit_kind", "month"],
    ["unit_kind", "quarter"],
]
WIDEST = [["unit", "month"], ["unit_kind", "month"]]

# One row per person, unit and month they viewed in: a person may view in several months
# and, having moved, in two units.
records = st.lists(
    st.tuples(
        st.integers(0, 29),
        st.sampled_from(sorted(KIND_OF)),
        st.sampled_from(MONTHS),
        st.integers(1, 60),
    ),
    max_size=60,
)
audiences = st.tuples(st.integers(5, 12), st.integers(0, 10)).map(lambda p: (p[0], p[0] + p[1]))


def raw(rows: list[tuple[int, str, str, int]]) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=["person", "unit", "month", "hours"])
    data = data.groupby(["person", "unit", "month"], as_index=False)["hours"].sum()
    data["unit_kind"] = data["unit"].map(KIND_OF)
    data["quarter"] = "2027Q1"
    return data


def grouped(data: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """What the database returns: cells, line totals and the grand total, people distinct."""
    if data.empty:
        return pd.DataFrame(columns=[*dims, "people", "hours"])
    sets = [dims, [dims[0]], [dims[1]], []] if len(dims) == 2 else [dims, []]
    parts = []
    for grouping in sets:
        if grouping:
            part = data.groupby(grouping).agg(people=("person", "nunique"), hours=("hours", "sum"))
            part = part.reset_index()
        else:
            part = pd.DataFrame(
                [{"people": data["person"].nunique(), "hours": data["hours"].sum()}]
            )
        for d in dims:
            if d not in grouping:
                part[d] = None
        parts.append(part[[*dims, "people", "hours"]])
    return pd.concat(parts, ignore_index=True).astype({d: object for d in dims})


def canonical_key(row: dict, dims: list[str]) -> tuple:
    """What a row counts, from what the figures mean (not the code under test): a value
    per dimension of the universe, None where rolled up or absent; a unit stands for its
    kind too."""
    values = {d: None for d in UNIVERSE}
    for d in dims:
        if d in values and row[d] is not None and not pd.isna(row[d]):
            values[d] = row[d]
    if values["unit"] is not None:
        values["unit_kind"] = KIND_OF[values["unit"]]
    return tuple(values[d] for d in UNIVERSE)


def members_of(data: pd.DataFrame, key: tuple) -> pd.DataFrame:
    month, unit, kind = key
    mask = np.ones(len(data), dtype=bool)
    for column, value in (("month", month), ("unit", unit), ("unit_kind", kind)):
        if value is not None:
            mask &= (data[column] == value).to_numpy()
    return data[mask]


def patterns_for(data: pd.DataFrame, dims: list[str], ks: tuple[int, int]) -> dict:
    """What the selector decides for one request: the asked grouping with the widest."""
    frames = [(grouped(data, dims), dims)]
    frames += [(grouped(data, g), g) for g in WIDEST if g != dims]
    return rules.joint_withheld(frames, universe=UNIVERSE, kind_of=KIND_OF, ks=ks)


def relations(keys: set[tuple]) -> list[tuple[tuple, list[tuple]]]:
    """Every total and the figures it adds up, among all figures any grouping publishes:
    a month over its units or kinds, a kind over its units, everything over months, units or
    kinds. Built from what the figures mean, not from the code under test."""
    out = []
    for total in keys:
        month, unit, kind = total
        splits = []
        if month is None:
            splits.append([k for k in keys if k[0] is not None and k[1:] == total[1:]])
        if unit is None:
            splits.append([k for k in keys if k[1] is not None and k[0] == month and
                           (kind is None or k[2] == kind)])  # fmt: skip
        if kind is None and unit is None:
            splits.append([k for k in keys if k[2] is not None and k[1] is None and k[0] == month])
        out += [(total, split) for split in splits if split]
    return out


def determined(unknowns: list[tuple], equations: list[dict[tuple, float]]) -> set[tuple]:
    """The unknowns a linear system fixes, by least squares on each unit vector (another
    method than the code's null space)."""
    if not unknowns or not equations:
        return set()
    column = {key: n for n, key in enumerate(unknowns)}
    matrix = np.zeros((len(equations), len(unknowns)))
    for row, equation in enumerate(equations):
        for key, coefficient in equation.items():
            matrix[row, column[key]] += coefficient
    found = set()
    for key, n in column.items():
        target = np.zeros(len(unknowns))
        target[n] = 1.0
        solution, *_ = np.linalg.lstsq(matrix.T, target, rcond=None)
        if np.allclose(matrix.T @ solution, target, atol=1e-7):
            found.add(key)
    return found


@settings(max_examples=60, deadline=None)
@given(records, audiences)
def test_no_combination_of_allowed_outputs_recovers_fewer_than_k(rows, ks) -> None:
    data = raw(rows)
    people = {}
    for dims in GROUPINGS:
        for record in grouped(data, dims).to_dict("records"):
            key = canonical_key(record, dims)
            people[key] = set(members_of(data, key)["person"])
    requests = [patterns_for(data, dims, ks) for dims in GROUPINGS]
    for k in ks:
        # Every request sees the same pattern: the same figure is shown or withheld alike.
        pattern = requests[0][k]
        assert all(request[k] == pattern for request in requests)
        assert set(pattern) == set(people)
        withheld = {key for key, hidden in pattern.items() if hidden}
        # (a) Primary: every published figure comes from k or more people.
        assert all(len(people[key]) >= k for key in people if key not in withheld)
        # (a) Differencing: a published total minus its published parts covers no one, or
        # k or more people (their hours summed, never one figure under k).
        for total, parts in relations(set(people)):
            if total in withheld:
                continue
            hidden = [p for p in parts if p in withheld]
            covered = set().union(*(people[p] for p in hidden)) if hidden else set()
            assert not covered or len(covered) >= k, (total, hidden)
        # (a) Any sum or difference of the published figures: no withheld figure under k is
        # fixed by them.
        equations = []
        for total, parts in relations(set(people)):
            equation = {p: 1.0 for p in parts if p in withheld}
            if total in withheld:
                equation[total] = equation.get(total, 0.0) - 1.0
            if equation:
                equations.append(equation)
        small = determined(sorted(withheld, key=repr), equations)
        assert not [key for key in small if len(people[key]) < k]
    # The stricter audience withholds all the laxer one does: together they show no more.
    lax, strict = requests[0][min(ks)], requests[0][max(ks)]
    assert all(strict[key] for key, hidden in lax.items() if hidden)


def test_a_unit_kind_minus_its_units_gives_back_nothing() -> None:
    """The known leak: unit_kind minus unit. C (3 people) and D (12) are the cyber kind;
    the unit table alone would publish D and withhold C, and the kind table would publish
    cyber; cyber minus D was C."""
    rows = [(p, "A", "2027-01", 10) for p in range(12)]
    rows += [(100 + p, "B", "2027-01", 10) for p in range(9)]
    rows += [(200 + p, "C", "2027-01", 7) for p in range(3)]
    rows += [(300 + p, "D", "2027-01", 10) for p in range(12)]
    data = raw(rows)
    alone = rules.suppression(grouped(data, ["unit"]), ["unit"], 5)
    assert alone.tolist() == [False, True, True, False, False]  # one table alone: D shown
    pattern = patterns_for(data, ["unit"], (5, 10))[5]
    cyber = (None, None, "cyber")
    d_unit = (None, "D", "cyber")
    assert pattern[(None, "C", "cyber")]
    assert pattern[cyber] or pattern[d_unit]


# --- (b) Periods: a partition of ended quarters --------------------------------------------------

days = st.dates(date(1990, 1, 1), date(2100, 12, 31))
quarters = st.builds(lambda y, q: f"{y}Q{q}", st.integers(1985, 2105), st.integers(1, 4))
months = st.builds(date, st.integers(1985, 2105), st.integers(1, 12), st.just(1))


@given(days, st.lists(quarters, min_size=2, max_size=6))
def test_allowed_periods_never_overlap_or_nest(today: date, asked: list[str]) -> None:
    allowed = set()
    for text in asked:
        try:
            allowed.add(rules.ended_quarter(text, today))
        except ValueError:
            continue
    for (a_start, a_end), (b_start, b_end) in combinations(sorted(allowed), 2):
        assert a_end <= b_start or b_end <= a_start
    for start, end in allowed:
        assert end <= today  # ended: its figures no longer change
        assert (start.month - 1) % 3 == 0
        assert start.day == 1
        assert rules.month_after(rules.month_after(rules.month_after(start))) == end


@given(days, months, months)
def test_from_and_to_are_accepted_only_as_one_whole_quarter(today, first, last) -> None:
    try:
        quarter = rules.quarter_from_months(first, last)
    except ValueError:
        assert first.month % 3 != 1 or rules.month_after(last) != rules.quarter_of(first)[1]
        return
    start, end = rules.parse_quarter(quarter)
    assert (start, rules.month_after(last)) == (first, end)


@given(days)
def test_the_quarter_in_progress_is_refused_and_the_last_ended_is_the_default(today) -> None:
    current = rules.quarter_label(rules.quarter_of(today)[0])
    with pytest.raises(ValueError, match="ended quarter"):
        rules.ended_quarter(current, today)
    start, end = rules.ended_quarter(rules.last_ended_quarter(today), today)
    assert end == rules.quarter_of(today)[0]
    assert end - start <= timedelta(days=92)


def test_the_issue_periods_are_refused() -> None:
    today = date(2027, 1, 10)
    with pytest.raises(ValueError, match="ended quarter"):
        rules.quarter_from_months(date(2026, 11, 1), date(2026, 12, 1))  # Nov-Dec
    with pytest.raises(ValueError, match="ended quarter"):
        rules.quarter_from_months(date(2026, 11, 1), date(2026, 11, 1))  # Nov alone
    assert rules.quarter_from_months(date(2026, 10, 1), date(2026, 12, 1)) == "2026Q4"
    assert rules.ended_quarter("2026Q4", today) == (date(2026, 10, 1), date(2027, 1, 1))


# --- (c) k-stepping ---------------------------------------------------------------------------------


def observed(n: int, ks: tuple[int, ...]) -> tuple:
    """Every head-count any audience is shown of a unit of n beside a unit of 40."""
    frame = pd.DataFrame({"unit": ["X", "Y", None], "people": [n, 40, n + 40]})
    shown = []
    for k in ks:
        out = rules.protect(frame, dims=["unit"], protection=rules.Protection(k))
        shown.append(tuple(out["people"]))
    return tuple(shown)


@given(st.integers(0, 200), st.lists(st.integers(5, 40), min_size=1, max_size=4))
def test_stepping_k_shows_no_more_than_a_block_of_five(n: int, ks: list[int]) -> None:
    """Whatever k values are configured, what is shown of a head-count depends on its block
    of five alone, and nothing is shown of one under k."""
    steps = tuple(sorted(set(ks)))
    assert observed(n, steps) == observed(5 * (n // 5), steps)
    for k, shown in zip(steps, observed(n, steps), strict=True):
        if shown[0] is not None:
            assert n >= k
            assert shown[0] <= n < shown[0] + 5


def test_k_comes_only_from_configuration() -> None:
    hr = rules.protection_for("hr", hr_k=5, board_k=10)
    board = rules.protection_for("board", hr_k=5, board_k=10)
    assert (hr.k, board.k) == (5, 10)
    assert hr.ladder == board.ladder == (5, 10)
    with pytest.raises(ValueError, match="audience"):
        rules.protection_for("7", hr_k=5, board_k=10)
    with pytest.raises(ValueError, match="at least 5"):
        rules.protection_for("hr", hr_k=4, board_k=10)
