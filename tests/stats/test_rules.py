"""Disclosure control: property tests over random tables, and table tests of the edges."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oracles import round_count
from welfare.stats import rules
from welfare.stats.rules import Protection, lines, protect, suppression


def table(
    cells: dict[tuple[str, str], tuple[int, float]], *, distinct_margin: bool = False
) -> pd.DataFrame:
    """A 2-D table with row, column and grand totals; hours add up, people (distinct) too
    unless a person may appear in several cells."""
    rows = []
    for (a, b), (people, hours) in cells.items():
        rows.append({"unit": a, "month": b, "people": people, "hours": hours})
    frame = pd.DataFrame(rows)
    totals = []
    for a, group in frame.groupby("unit"):
        totals.append(
            {
                "unit": a,
                "month": None,
                "people": int(group.people.sum()),
                "hours": float(group.hours.sum()),
            }
        )
    for b, group in frame.groupby("month"):
        totals.append(
            {
                "unit": None,
                "month": b,
                "people": int(group.people.sum()),
                "hours": float(group.hours.sum()),
            }
        )
    totals.append(
        {
            "unit": None,
            "month": None,
            "people": int(frame.people.sum()),
            "hours": float(frame.hours.sum()),
        }
    )
    return pd.concat([frame, pd.DataFrame(totals)], ignore_index=True)


cell_values = st.tuples(st.integers(0, 40), st.floats(0, 500, allow_nan=False))
tables = st.dictionaries(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D"]), st.sampled_from(["2027-01", "2027-02", "2027-03"])
    ),
    cell_values,
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(5, 12))
def test_no_published_cell_comes_from_fewer_than_k_people(cells, k: int) -> None:
    frame = table(cells)
    published = protect(frame, dims=["unit", "month"], protection=Protection(k), hours=["hours"])
    shown = published[~published[rules.SUPPRESSED]]
    assert (frame.loc[shown.index, "people"] >= k).all()
    assert published.loc[published[rules.SUPPRESSED], ["people", "hours"]].isna().all().all()


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(5, 12))
def test_no_withheld_cell_can_be_recovered_from_a_published_total(cells, k: int) -> None:
    frame = table(cells)
    withheld = suppression(frame, ["unit", "month"], k)
    for members, total in lines(frame, ["unit", "month"]):
        if total is None or withheld[total]:
            continue
        assert int(withheld[members].sum()) != 1, (members.tolist(), total)


# --- The linear audit ------------------------------------------------------------------------


def fixed_by_rank(withheld: np.ndarray, pairs: list[tuple[np.ndarray, int | None]]) -> set[int]:
    """The withheld figures the published totals fix, by another method than the code's
    leverages: a figure is fixed when its column of the equations is not in the span of the
    other withheld figures' columns (dropping it lowers the rank)."""
    hidden = [int(h) for h in np.flatnonzero(withheld)]
    rows = []
    for members, total in pairs:
        if total is None:
            continue
        row = [float(sum(1 for m in members if m == h)) - (h == total) for h in hidden]
        if any(row):
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    return {
        h for n, h in enumerate(hidden) if np.linalg.matrix_rank(np.delete(matrix, n, 1)) < rank
    }


@st.composite
def systems(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[np.ndarray, int | None]]]:
    """Figures, some withheld, and published totals each the sum of some others."""
    n = draw(st.integers(1, 14))
    withheld = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pairs: list[tuple[np.ndarray, int | None]] = []
    for _ in range(draw(st.integers(0, 10))):
        total = draw(st.one_of(st.none(), st.integers(0, n - 1)))
        members = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n))
        members.discard(total)  # type: ignore[arg-type]
        pairs.append((np.array(sorted(members), dtype=int), total))
    return withheld, pairs


@settings(max_examples=400, deadline=None)
@given(systems())
def test_the_audit_finds_exactly_the_figures_the_published_totals_fix(system) -> None:
    withheld, pairs = system
    found = set(np.flatnonzero(rules.recoverable(withheld, pairs)).tolist())
    assert found == fixed_by_rank(withheld, pairs)
    assert found <= set(np.flatnonzero(withheld).tolist())


def test_an_ill_conditioned_chain_is_audited_by_the_slower_decomposition() -> None:
    """Nested totals T1 = m1 + T2, ..., T(L-1) = m(L-1) + TL, TL = mL: the withheld totals
    form a path, whose Gram matrix is too ill-conditioned to trust (its smallest eigenvalue
    falls as 1/L^2). T1 and every m but mj and mL are published: T2..Tj follow from T1;
    mj, T(j+1)..TL and mL can all move together, so none of them is fixed."""
    length, j = 1400, 490
    total_at = list(range(length))  # T1..TL at 0..L-1
    member_at = [length + i for i in range(length)]  # m1..mL after them
    pairs = [(np.array([member_at[i], total_at[i + 1]]), total_at[i]) for i in range(length - 1)]
    pairs.append((np.array([member_at[-1]]), total_at[-1]))
    withheld = np.zeros(2 * length, dtype=bool)
    withheld[total_at[1:]] = True
    withheld[[member_at[j - 1], member_at[-1]]] = True
    equations = rules._equations(withheld, pairs)
    assert rules._leverage_from_gram(*equations, int(withheld.sum())) is None
    fixed = rules.recoverable(withheld, pairs)
    assert set(np.flatnonzero(fixed).tolist()) == set(total_at[1:j])


@given(st.integers(0, 100_000))
def test_counts_are_rounded_down_to_their_block_of_five(value: int) -> None:
    rounded = round_count(value)
    assert rounded % 5 == 0
    assert 0 <= value - rounded <= 4


def test_a_unit_of_three_is_never_shown_alone() -> None:
    frame = table(
        {
            ("Small", "2027-01"): (3, 40.0),
            ("Big", "2027-01"): (20, 300.0),
            ("Other", "2027-01"): (9, 100.0),
        }
    )
    published = protect(frame, dims=["unit", "month"], protection=Protection(5), hours=["hours"])
    small = published[published.unit == "Small"]
    assert small[rules.SUPPRESSED].all()  # its cell and its row total
    # The month total stands, so one more cell goes with it: the smallest other.
    other = published[(published.unit == "Other") & (published.month == "2027-01")]
    assert other[rules.SUPPRESSED].all()
    big = published[(published.unit == "Big") & (published.month == "2027-01")]
    assert not big[rules.SUPPRESSED].any()


def test_a_unit_of_seven_is_in_the_hr_view_and_not_in_the_pack() -> None:
    frame = table(
        {
            ("Seven", "2027-01"): (7, 70.0),
            ("Big", "2027-01"): (20, 300.0),
            ("Mid", "2027-01"): (12, 100.0),
        }
    )
    hr = protect(frame, dims=["unit", "month"], protection=Protection(5), hours=["hours"])
    pack = protect(frame, dims=["unit", "month"], protection=Protection(10), hours=["hours"])
    assert not hr[hr.unit == "Seven"][rules.SUPPRESSED].any()
    assert pack[pack.unit == "Seven"][rules.SUPPRESSED].all()


def test_one_dimension_with_a_grand_total() -> None:
    frame = pd.DataFrame(
        {
            "unit": ["A", "B", "C", None],
            "people": [12, 3, 8, 23],
            "hours": [100.0, 20.0, 60.0, 180.0],
        }
    )
    withheld = suppression(frame, ["unit"], 5)
    assert withheld.tolist() == [False, True, True, False]


def test_k_below_five_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        Protection(4)


def test_rates_and_counts_are_rounded() -> None:
    frame = pd.DataFrame(
        {
            "unit": ["A", None],
            "people": [13, 13],
            "due": [13, 13],
            "rate": [61.6, 61.6],
            "hours": [10.4, 10.4],
        }
    )
    out = protect(
        frame,
        dims=["unit"],
        protection=Protection(5),
        counts=["due"],
        rates=["rate"],
        hours=["hours"],
    )
    assert out.loc[0, ["people", "due", "rate", "hours"]].tolist() == [10, 10, 62, 10]
    assert not np.any(out[rules.SUPPRESSED])


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [(["month", "unit"], ["unit", "month"]), (["unit"], ["unit"]), (["quarter"], ["quarter"])],
)
def test_groupings_from_a_fixed_list(group_by: list[str], expected: list[str]) -> None:
    assert rules.check_grouping(group_by, ["unit", "unit_kind", "month", "quarter"]) == expected


@pytest.mark.parametrize(
    "group_by",
    [[], ["officer"], ["unit", "month", "quarter"], ["month", "quarter"], ["unit", "unit"]],
)
def test_other_groupings_are_refused(group_by: list[str]) -> None:
    with pytest.raises(ValueError, match="Group by"):
        rules.check_grouping(group_by, ["unit", "unit_kind", "month", "quarter"])


def test_periods_are_whole_months_or_quarters() -> None:
    assert rules.parse_month("2027-02") == date(2027, 2, 1)
    assert rules.parse_quarter("2027q4") == (date(2027, 10, 1), date(2028, 1, 1))
    assert rules.last_ended_quarter(date(2027, 2, 14)) == "2026Q4"
    assert rules.last_ended_quarter(date(2027, 4, 1)) == "2027Q1"
    for bad in ("2027-13", "2027-1", "27-01", "2027-01-15"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            rules.parse_month(bad)
    for bad in ("2027Q5", "2027-Q1", "9999Q4", "0000Q1"):
        with pytest.raises(ValueError, match="ended quarter"):
            rules.ended_quarter(bad, date(2027, 4, 1))
