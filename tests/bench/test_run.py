"""Every benchmark, end to end on a tiny curve (two sizes, and the smaller with a longer
history): it runs and writes well-formed results.

Timings are not asserted here (that is `make bench`'s job); what is asserted is that each
benchmark measured something real and reported it with its floor and its target, and that
the curve fitted every cost across the sizes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.curve import IN_HISTORY, IN_OFFICERS
from bench.run import TARGETS, write_results

pytestmark = [
    pytest.mark.xdist_group("bench"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]


@pytest.fixture(scope="session")  # one run, however xdist interleaves other modules
def curve(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    prefix = f"welfare_benchtest_{secrets.token_hex(4)}"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "curve", "--sizes", "20,40",
         "--years", "0.15", "--history-years", "0.3", "--duration", "2", "--repeats", "2",
         "--connections", "2", "--out", str(out), "--database", prefix, "--fresh", "--drop"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    found: dict[str, Any] = json.loads((out / "curve.json").read_text())
    markdown = (out / "curve.md").read_text()
    assert "## Scaling curve" in markdown
    assert "| benchmark | service | floor | ratio | target | result |" in markdown
    # Every database the run made was dropped again.
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        left = conn.execute(
            "SELECT COUNT(*) FROM pg_database WHERE datname LIKE %s", [f"{prefix}%"]
        ).fetchone()
    assert left == (0,)
    return {**found, "stdout": completed.stdout, "markdown": markdown, "out": out}


@pytest.fixture(scope="session")  # one run, however xdist interleaves other modules
def results(curve: dict[str, Any]) -> dict[str, Any]:
    """The larger size's results, as a single-size run reports them."""
    largest: dict[str, Any] = curve["points"][-1]
    write_results(curve["out"], largest)
    markdown = (curve["out"] / "results.md").read_text()
    assert "| benchmark | service | floor | ratio | target | result |" in markdown
    return {**largest, "markdown": markdown}


def test_the_curve_fits_every_cost_at_every_size(curve: dict[str, Any]) -> None:
    assert curve["params"]["officers"] == [20, 40]
    assert [p["data"]["rows"]["people_officer"] for p in curve["points"]] == [20, 40]
    assert curve["history_point"]["data"]["rows"]["people_officer"] == 20
    assert [r["cost"] for r in curve["officers"]] == [c.name for c in IN_OFFICERS]
    assert [r["cost"] for r in curve["history"]] == [c.name for c in IN_HISTORY]
    for row in (*curve["officers"], *curve["history"]):
        assert row["values"] is not None, row
        assert all(v > 0 for v in row["values"]), row
        assert row["exponent"] is not None, row
        assert (row["pass"] is None) == (row["bound"] is None)
        assert row["label"] in curve["markdown"]
    assert curve["history"][0]["sizes"] == [0.15, 0.3]
    # Each size's data was generated in this run, and the time recorded.
    assert len(curve["generation_s"]) == 3
    assert all(v > 0 for v in curve["generation_s"].values())
    assert "PASS" in curve["stdout"] or "MISS" in curve["stdout"]


def test_jobs_first_catch_up_and_steady_state(results: dict[str, Any]) -> None:
    jobs = results["jobs"]
    assert jobs["first_ms"] > 0
    assert jobs["steady_ms"] > 0
    assert jobs["next_morning_ms"] > 0
    assert jobs["jobs"] > 0
    # The catch-up did the schedule's work: the job reports are kept.
    assert set(jobs["work"]) >= {"checkin_schedule", "rotation", "exposure_limits"}


def test_the_sweep_against_its_floor(results: dict[str, Any]) -> None:
    sweep = results["sweep"]
    assert sweep["officers_viewing"] > 0
    assert sweep["full_ms"] > 0
    assert sweep["floor_ms"] > 0
    assert sweep["incremental_officers"] >= 1
    assert sweep["incremental_ms"] > 0


def test_logging_under_load_loses_and_duplicates_nothing(results: dict[str, Any]) -> None:
    logging = results["logging"]
    assert logging["service"]["requests"] > 0
    assert logging["bare"]["requests"] > 0
    assert logging["acknowledged"] > 0
    assert logging["lost"] == 0
    assert logging["duplicates"] == 0
    assert logging["service"]["errors"] == 0
    assert logging["service"]["p99_ms"] >= logging["service"]["p50_ms"] > 0


def test_reads_and_their_query_counts(results: dict[str, Any]) -> None:
    assert set(results["reads"]) == {"team_summary", "alerts", "oh_cases"}
    for read in results["reads"].values():
        assert read["requests"] > 0
        assert read["errors"] == 0
    queries = results["queries"]
    assert queries["team_sizes"][0] < queries["team_sizes"][1]
    for name in ("team_summary", "alerts", "oh_cases"):
        assert len(queries[name]) == 2
        assert min(queries[name]) > 0


def test_statistics_against_their_floor(results: dict[str, Any]) -> None:
    stats = results["stats"]
    assert stats["rows"] > 0
    assert stats["months"] >= 3
    assert stats["service_ms"] > 0
    assert stats["floor_ms"] > 0


def test_memory_and_every_target_reported(results: dict[str, Any]) -> None:
    assert results["jobs"]["peak_rss_mb"] > 0
    assert results["stats"]["peak_rss_mb"] > 0
    assert [t["target"] for t in results["targets"]] == [name for name, *_ in TARGETS]
    assert all(isinstance(t["pass"], bool) for t in results["targets"])
    assert results["data"]["rows"]["people_officer"] == 40
    assert results["scale"] == "40 officers x 0.15 years"
    assert "PASS" in results["markdown"] or "MISS" in results["markdown"]
