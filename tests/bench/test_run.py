"""Every benchmark, end to end at a tiny size: it runs and writes well-formed results.

Timings are not asserted here (that is `make bench`'s job); what is asserted is that each
benchmark measured something real and reported it with its floor and its target.
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

import pytest

from bench.run import TARGETS

pytestmark = [
    pytest.mark.xdist_group("bench"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    name = f"welfare_benchtest_{secrets.token_hex(4)}"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "tiny", "--duration", "3",
         "--repeats", "2", "--connections", "2", "--out", str(out), "--database", name,
         "--fresh", "--drop"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    everything = json.loads((out / "results.json").read_text())
    markdown = (out / "results.md").read_text()
    assert "| benchmark | service | floor | ratio | target | result |" in markdown
    return {**everything["tiny"], "stdout": completed.stdout, "markdown": markdown}


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
    assert "PASS" in results["markdown"] or "MISS" in results["markdown"]
