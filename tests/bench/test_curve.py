"""The growth exponent and the curve's verdicts, on figures made for the purpose."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.curve import IN_HISTORY, IN_OFFICERS, fit, growth_exponent, table, verdicts


@given(
    k=st.floats(min_value=-1, max_value=3),
    c=st.floats(min_value=0.01, max_value=1e4),
    sizes=st.lists(st.integers(min_value=1, max_value=10**6), min_size=2, max_size=5, unique=True),
)
def test_a_power_law_gives_back_its_exponent(k: float, c: float, sizes: list[int]) -> None:
    exponent = growth_exponent(sizes, [c * s**k for s in sizes])
    assert exponent == pytest.approx(k, abs=1e-6)


def test_what_cannot_be_fitted_is_none() -> None:
    assert growth_exponent([500], [10.0]) is None  # one size
    assert growth_exponent([500, 500], [10.0, 12.0]) is None  # no spread in size
    assert growth_exponent([500, 2000], [10.0, 0.0]) is None  # nothing measured


def test_linear_work_is_one_and_flat_work_is_zero() -> None:
    assert growth_exponent([500, 2000, 8000], [10, 40, 160]) == pytest.approx(1.0)
    assert growth_exponent([500, 2000, 8000], [12, 12, 12]) == pytest.approx(0.0, abs=1e-9)
    # Least squares over every point, not the two ends: a middle outlier moves it (with
    # sizes evenly spaced in log it cannot: the fit's slope is then the ends' slope).
    assert growth_exponent([500, 1000, 8000], [10, 80, 160]) != pytest.approx(1.0)
    assert growth_exponent([500, 1000, 8000], [10, 20, 160]) == pytest.approx(1.0)


def _point(officers: int, years: float, grow: float, p99: float) -> dict[str, Any]:
    """A size's results where every time grows as officers**grow and reads stay at p99."""
    t = (officers / 500) ** grow
    read = {"p99_ms": p99}
    return {
        "params": {"officers": officers, "years": years},
        "jobs": {"first_ms": 900 * t, "steady_ms": 90 * t, "next_morning_ms": 120 * t,
                 "peak_rss_mb": 150.0},
        "sweep": {"full_ms": 20 * t, "incremental_ms": 2 * t},
        "stats": {"service_ms": 500 * t, "peak_rss_mb": 170.0},
        "reads": {"team_summary": read, "alerts": read, "oh_cases": read},
        "queries": {"team_summary": [11, 11], "alerts": [4, 4], "oh_cases": [11, 11]},
        "logging": {"service": {"p99_ms": 30.0}},
    }  # fmt: skip


def _curve(grow: float, p99s: tuple[float, float, float]) -> dict[str, Any]:
    points = [_point(n, 2, grow, p) for n, p in zip((500, 2000, 8000), p99s, strict=True)]
    longer = _point(500, 6, grow, p99s[0])
    return {
        "params": {"officers": [500, 2000, 8000], "years": [2, 6]},
        "officers": fit(IN_OFFICERS, points, "officers"),
        "history": fit(IN_HISTORY, [points[0], longer], "years"),
        "generation_s": {"8000 officers x 2 years": 700.0},
        "generation_limit_s": 900,
        "generation_pass": True,
    }


def test_linear_costs_and_flat_reads_pass() -> None:
    curve = _curve(1.0, (30, 31, 30))
    assert verdicts(curve) == []
    markdown = table(curve)
    assert "| jobs: first catch-up (run_jobs, nothing run before) | 900 ms | 3,600 ms |" in markdown
    assert "| 1.00 | <= 1.1 | PASS |" in markdown
    assert "MISS" not in markdown


def test_superlinear_costs_and_growing_reads_miss() -> None:
    curve = _curve(1.3, (20, 40, 80))  # times as n**1.3; reads doubling with each size
    missed = verdicts(curve)
    assert {"jobs_first", "jobs_steady", "sweep", "statistics"} <= set(missed)
    assert {"read_team_summary", "read_alerts", "read_oh_cases"} <= set(missed)
    assert "queries_alerts" not in missed  # the query counts stayed flat
    assert "jobs_memory_history" not in missed


def test_a_cost_that_was_not_measured_misses() -> None:
    points = [_point(n, 2, 1.0, 30) for n in (500, 2000, 8000)]
    del points[1]["stats"]["service_ms"]
    rows = {r["cost"]: r for r in fit(IN_OFFICERS, points, "officers")}
    assert rows["statistics"]["pass"] is False
    assert rows["statistics"]["exponent"] is None
    assert rows["logging_p99"]["pass"] is None  # reported, no target


def test_national_memory_is_compared_with_the_curves_force_size(tmp_path: Any) -> None:
    import json

    from bench.run import write_results

    force = {
        "scale": "2000 officers x 2 years",
        "params": {"officers": 2000, "years": 2.0},
        "jobs": {"peak_rss_mb": 200.0},
        "stats": {"peak_rss_mb": 160.0},
    }
    national = {"scale": "national", "params": {"officers": 20000, "years": 5},
                "jobs": {"peak_rss_mb": 320.0}, "stats": {"peak_rss_mb": 200.0}}  # fmt: skip
    write_results(tmp_path, force)
    write_results(tmp_path, national)
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["national"]["memory"] == {"run_jobs": 1.6, "statistics": 1.25, "pass": False}
