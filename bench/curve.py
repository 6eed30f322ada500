"""The scaling curve: each cost measured at several sizes and its growth exponent.

A cost that grows as `c * n**k` with the number of officers `n` has exponent `k`: the slope
of log(cost) against log(n), fitted by least squares over the sizes measured. Linear work
has k = 1; a cost that does not grow has k = 0. Pure functions of the measured results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def growth_exponent(sizes: Sequence[float], costs: Sequence[float]) -> float | None:
    """The least-squares slope of log(cost) on log(size); None when it cannot be fitted
    (fewer than two distinct sizes, or a cost that is not positive)."""
    pairs = [(math.log(s), math.log(c)) for s, c in zip(sizes, costs, strict=True) if c > 0]
    if len(pairs) < 2 or len(pairs) < len(costs):
        return None
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    spread = sum((x - mean_x) ** 2 for x, _ in pairs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in pairs) / spread


@dataclass(frozen=True)
class Cost:
    """One cost on the curve: how to read it from a size's results, and its bound."""

    name: str
    label: str
    unit: str
    read: Callable[[dict[str, Any]], float]
    bound: float | None  # the exponent's upper bound; None: reported, not a target


def _larger(pair: Sequence[int]) -> float:
    return float(max(pair))


# Costs against the number of officers (the same history length at every size).
IN_OFFICERS = (
    Cost("jobs_first", "jobs: first catch-up (run_jobs, nothing run before)", "ms",
         lambda r: r["jobs"]["first_ms"], 1.1),
    Cost("jobs_steady", "jobs: steady state (an hour later)", "ms",
         lambda r: r["jobs"]["steady_ms"], 1.1),
    Cost("jobs_morning", "jobs: steady state (next morning, daily jobs due)", "ms",
         lambda r: r["jobs"]["next_morning_ms"], 1.1),
    Cost("sweep", "full exposure sweep (every officer viewing that day)", "ms",
         lambda r: r["sweep"]["full_ms"], 1.1),
    Cost("incremental", "incremental sweep (1% of officers log)", "ms",
         lambda r: r["sweep"]["incremental_ms"], 1.1),
    Cost("statistics", "statistics: exposure by unit and month, all history", "ms",
         lambda r: r["stats"]["service_ms"], 1.1),
    Cost("read_team_summary", "read p99: team summary", "ms",
         lambda r: r["reads"]["team_summary"]["p99_ms"], 0.1),
    Cost("read_alerts", "read p99: open alerts", "ms",
         lambda r: r["reads"]["alerts"]["p99_ms"], 0.1),
    Cost("read_oh_cases", "read p99: OH case list", "ms",
         lambda r: r["reads"]["oh_cases"]["p99_ms"], 0.1),
    Cost("queries_team_summary", "queries per request: team summary", "queries",
         lambda r: _larger(r["queries"]["team_summary"]), 0.1),
    Cost("queries_alerts", "queries per request: open alerts", "queries",
         lambda r: _larger(r["queries"]["alerts"]), 0.1),
    Cost("queries_oh_cases", "queries per request: OH case list", "queries",
         lambda r: _larger(r["queries"]["oh_cases"]), 0.1),
    Cost("logging_p99", "logging p99 (reported)", "ms",
         lambda r: r["logging"]["service"]["p99_ms"], None),
    Cost("jobs_memory", "peak memory: first catch-up (reported)", "MB",
         lambda r: r["jobs"]["peak_rss_mb"], None),
    Cost("stats_memory", "peak memory: statistics (reported)", "MB",
         lambda r: r["stats"]["peak_rss_mb"], None),
)  # fmt: skip

# Costs against the length of history (the same officers).
IN_HISTORY = (
    Cost("jobs_memory_history", "peak memory: first catch-up", "MB",
         lambda r: r["jobs"]["peak_rss_mb"], 0.1),
    Cost("stats_memory_history", "peak memory: statistics", "MB",
         lambda r: r["stats"]["peak_rss_mb"], 0.1),
)  # fmt: skip


def fit(costs: Sequence[Cost], points: Sequence[dict[str, Any]], axis: str) -> list[dict[str, Any]]:
    """Each cost at each point, its exponent along `axis` ("officers" or "years") and, where
    it has a bound, PASS or MISS (a cost that could not be read or fitted is a MISS)."""
    sizes = [float(p["params"][axis]) for p in points]
    rows = []
    for cost in costs:
        try:
            values: list[float] | None = [float(cost.read(p)) for p in points]
        except (KeyError, TypeError, ValueError):
            values = None
        exponent = growth_exponent(sizes, values) if values is not None else None
        passed = None
        if cost.bound is not None:
            passed = exponent is not None and exponent <= cost.bound
        rows.append({
            "cost": cost.name, "label": cost.label, "unit": cost.unit, "axis": axis,
            "sizes": sizes, "values": values,
            "exponent": None if exponent is None else round(exponent, 3),
            "bound": cost.bound, "pass": passed,
        })  # fmt: skip
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def table(curve: dict[str, Any]) -> str:
    """The curve as Markdown: one line per cost, its value at each size, its exponent."""
    lines = ["## Scaling curve", ""]
    for axis, rows in (("officers", curve["officers"]), ("years", curve["history"])):
        if not rows:
            continue
        sizes = rows[0]["sizes"]
        heads = (
            [f"{s:,.0f} officers" for s in sizes]
            if axis == "officers"
            else [f"{s:g} years" for s in sizes]
        )
        lines += [
            f"Growth in {'officers' if axis == 'officers' else 'history length'} "
            f"({curve['params'][axis]}):",
            "",
            f"| cost | {' | '.join(heads)} | exponent | target | result |",
            f"|---|{'---|' * len(heads)}---|---|---|",
        ]
        for row in rows:
            values = row["values"] or [None] * len(sizes)
            cells = ["-" if v is None else f"{_number(v)} {row['unit']}" for v in values]
            exponent = "-" if row["exponent"] is None else f"{row['exponent']:.2f}"
            target = "-" if row["bound"] is None else f"<= {row['bound']:g}"
            result = "" if row["pass"] is None else ("PASS" if row["pass"] else "MISS")
            lines.append(
                f"| {row['label']} | {' | '.join(cells)} | {exponent} | {target} | {result} |"
            )
        lines.append("")
    generation = curve.get("generation_s", {})
    if generation:
        lines.append(
            "Data generated in: "
            + ", ".join(f"{k}: {v:,.0f} s" for k, v in generation.items())
            + f" (the largest size within {curve['generation_limit_s']:,} s: "
            + ("PASS" if curve["generation_pass"] else "MISS")
            + ")."
        )
    return "\n".join(lines) + "\n"


def verdicts(curve: dict[str, Any]) -> list[str]:
    """The names of the costs that missed their bound."""
    return [r["cost"] for r in (*curve["officers"], *curve["history"]) if r["pass"] is False]
