"""`make bench`: prepare a benchmark database, run every benchmark, print and write results.

    python -m bench.run [--scale force|national|tiny] [--duration S] [--fresh] [--out DIR]

The database is `welfare_bench_<scale>` next to the one in DATABASE_URL (the embedded
server when `make bench` starts it). It is generated once per scale and seed and reused
while the parameters match (`--fresh` regenerates); measurements roll back what they
change, except the sessions the logging runs add, which later runs step past.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import curve

BASE_DIR = Path(__file__).resolve().parent.parent
WRK_DIR = Path(__file__).resolve().parent / "wrk"


@dataclass(frozen=True)
class Scale:
    officers: int
    years: float
    writers: int  # officers whose tokens the logging load uses


SCALES = {
    "tiny": Scale(officers=40, years=0.25, writers=40),
    "force": Scale(officers=2000, years=2, writers=1000),
    "national": Scale(officers=20000, years=5, writers=1000),
}
SEED = 1


def _same_counts(r: dict[str, Any]) -> bool:
    return all(a == b for a, b in (r["queries"][k] for k in ("team_summary", "alerts", "oh_cases")))


def _integrity(r: dict[str, Any]) -> bool:
    lg = r["logging"]
    return bool(lg["duplicates"] == 0 and lg["lost"] == 0 and lg["service"]["errors"] == 0)


# Medians of interleaved runs on a shared two-core machine still move by a third from one
# run to the next; the repeats default is set high enough to make the medians steady.


# Targets: (name, description, test on the results).
TARGETS = [
    ("sweep", "full sweep <= 2x its SQL floor",
     lambda r: r["sweep"]["full_ms"] <= 2 * r["sweep"]["floor_ms"]),
    ("incremental", "incremental sweep <= 10% of a full sweep",
     lambda r: r["sweep"]["incremental_ms"] <= 0.1 * r["sweep"]["full_ms"]),
    ("logging_throughput", "logging >= 200 requests/s (five times a national peak)",
     lambda r: r["logging"]["service"]["rps"] >= 200),
    ("logging_p99", "logging p99 <= 50 ms", lambda r: r["logging"]["service"]["p99_ms"] <= 50),
    ("logging_integrity", "zero duplicates, zero lost writes, zero errors", _integrity),
    ("reads_p99", "reads p99 <= 50 ms",
     lambda r: all(v["p99_ms"] <= 50 for v in r["reads"].values())),
    ("queries_constant", "queries per request constant in team size", _same_counts),
    ("statistics", "statistics <= 1.5x their SQL floor",
     lambda r: r["stats"]["service_ms"] <= 1.5 * r["stats"]["floor_ms"]),
]  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


def last_weekday_before(day: date, gap_days: int = 2) -> date:
    """The history ends on a working day at least `gap_days` before `day`, leaving the days
    after it free for the sessions the logging runs add."""
    candidate = day - timedelta(days=gap_days)
    while candidate.weekday() >= 5:
        candidate -= timedelta(days=1)
    return candidate


# Each run's logging adds sessions after everything its writers have, in ten-minute slots
# (the service's and the bare view's: about 6 hours' worth on a two-core machine, more on a
# faster one). A reused database whose sessions come closer to now than this is made again,
# so that the logged sessions never reach the future (the service refuses those).
FREE_HOURS_NEEDED = 20


def has_free_hours(latest_end: datetime | None, now: datetime) -> bool:
    """Whether the sessions logged so far leave enough hours before now for a run."""
    return latest_end is None or now - latest_end >= timedelta(hours=FREE_HOURS_NEEDED)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def run(cmd: list[str], env: dict[str, str], *, capture: bool = True) -> str:
    result = subprocess.run(  # noqa: S603 - our own commands
        cmd, cwd=BASE_DIR, env=env, text=True, capture_output=capture, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout if capture else ""


def measure(what: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    out = run([sys.executable, "-m", "bench.measure", what, *args], env)
    return json.loads(out.strip().splitlines()[-1])


# --- The database -----------------------------------------------------------------------------


def _described(comment: str | None) -> tuple[dict[str, Any] | None, float | None]:
    """A benchmark database's parameters and generation time, from its comment (older
    databases' comments hold the parameters alone)."""
    try:
        found = json.loads(comment or "")
    except json.JSONDecodeError:
        return None, None
    if isinstance(found, dict) and "params" in found:
        return found["params"], found.get("generated_s")
    return (found if isinstance(found, dict) else None), None


def prepare_database(
    admin_url: str, name: str, params: dict[str, Any], env: dict[str, str], fresh: bool
) -> float | None:
    """Create and fill the benchmark database unless one with the same parameters exists.
    Returns the seconds it took to generate (and vacuum) its data, this time or when it was
    made (None if not recorded)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        found, seconds = _described(row[0]) if row is not None else (None, None)
        if found == params and not fresh:
            with psycopg.connect(with_database(admin_url, name)) as db:
                latest, now = db.execute(
                    "SELECT MAX(ended_at), now() FROM exposure_exposuresession"
                ).fetchone()  # type: ignore[misc]
            if has_free_hours(latest, now):
                log(f"Reusing database {name} ({json.dumps(params, sort_keys=True)}).")
                run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
                return seconds
            log(f"The runs so far have logged up to {latest:%Y-%m-%d %H:%M}: making {name} again.")
        if row is not None:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"Creating database {name}: {params['officers']} officers x {params['years']} years.")
    started = time.monotonic()
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
    run(
        [sys.executable, "manage.py", "bench_data", "--officers", str(params["officers"]),
         "--years", str(params["years"]), "--seed", str(params["seed"]),
         "--until", params["until"]],
        env,
        capture=not sys.stdout.isatty(),
    )  # fmt: skip
    # Settled, as a database in service is: a freshly loaded table has no visibility map
    # (index-only scans read the heap) and autovacuum would otherwise run during the
    # measurements.
    log("Vacuuming...")
    with psycopg.connect(with_database(admin_url, name), autocommit=True) as db:
        db.execute("VACUUM (ANALYZE)")
    seconds = round(time.monotonic() - started, 1)
    log(f"Generated {name} in {seconds:,.0f} s.")
    marker = json.dumps({"params": params, "generated_s": seconds}, sort_keys=True)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )
    return seconds


def data_size(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        counts = {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
            for table in (
                "people_officer", "people_unit", "exposure_exposuresession",
                "exposure_dailytotal", "checkins_checkin", "alerts_alert",
            )
        }  # fmt: skip
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
        version = conn.execute("SHOW server_version").fetchone()
    return {
        "rows": counts,
        "database_size": size[0] if size else "",
        "postgres": version[0] if version else "",
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


# --- HTTP: gunicorn and wrk ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "backend.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "1",
         "--log-level", "warning"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, script: str, env: dict[str, str], *, threads: int, connections: int,
        duration: int) -> dict[str, Any]:  # fmt: skip
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt where it can).")
    env = {**env, "BENCH_LUA_DIR": str(WRK_DIR)}
    out = run(
        [binary, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "--timeout", "10s", "-s", str(WRK_DIR / script), url],
        env,
    )  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    errors = result.pop("errors")
    result["errors"] = sum(errors.values())
    result["error_kinds"] = {k: v for k, v in errors.items() if v}
    result["rps"] = round(result["requests"] / result["seconds"], 1) if result["seconds"] else 0.0
    return result


def logging_run(
    base: str, env: dict[str, str], tokens: Path, *, mode: str, start: int, threads: int,
    connections: int, duration: int,
) -> tuple[dict[str, Any], set[str], str]:  # fmt: skip
    acks = Path(tempfile.mkdtemp(prefix=f"bench-acks-{mode}-"))
    run_id = f"{secrets.randbelow(2**31):08x}"
    path = "/api/v1/exposures/" if mode == "service" else "/bench/bare-exposure"
    result = wrk(
        base + path,
        "log.lua",
        {**env, "BENCH_TOKENS": str(tokens / "writers.txt"), "BENCH_THREADS": str(threads),
         "BENCH_BASE": str(start), "BENCH_RUN": run_id, "BENCH_MODE": mode,
         "BENCH_ACKS": str(acks)},
        threads=threads, connections=connections, duration=duration,
    )  # fmt: skip
    acked = {
        line.strip()
        for file in acks.glob("acks-*.txt")
        for line in file.read_text().splitlines()
        if line.strip()
    }
    shutil.rmtree(acks, ignore_errors=True)
    return result, acked, run_id


def integrity(url: str, acked: set[str], run_id: str) -> dict[str, int]:
    """Every acknowledged write is stored, once."""
    prefix = f"{run_id}-%"
    with psycopg.connect(url) as conn:
        stored = {
            str(ref)
            for (ref,) in conn.execute(
                "SELECT client_ref FROM exposure_exposuresession WHERE client_ref::text LIKE %s",
                [prefix],
            )
        }
        duplicates = conn.execute(
            "SELECT COUNT(*) FROM (SELECT officer_id, client_ref FROM exposure_exposuresession"
            " WHERE client_ref::text LIKE %s GROUP BY 1, 2 HAVING COUNT(*) > 1) d",
            [prefix],
        ).fetchone()
    return {
        "acknowledged": len(acked),
        "stored": len(stored),
        "lost": len(acked - stored),
        "duplicates": int(duplicates[0]) if duplicates else 0,
    }


def next_free(url: str, officers: list[int], after: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT EXTRACT(EPOCH FROM MAX(ended_at)) FROM exposure_exposuresession"
            " WHERE officer_id = ANY(%s)",
            [officers],
        ).fetchone()
    latest = int(row[0]) if row and row[0] is not None else 0
    return max(after, latest + 600)


# --- Results ----------------------------------------------------------------------------------


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, description, test in TARGETS:
        try:
            ok = bool(test(results))
        except (KeyError, TypeError, ZeroDivisionError):
            ok = False
        rows.append({"target": name, "description": description, "pass": ok})
    return rows


def table(results: dict[str, Any]) -> str:
    s, st, lg, rd, q, j = (
        results[k] for k in ("sweep", "stats", "logging", "reads", "queries", "jobs")
    )

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    lines = [
        f"## Benchmark results: {results['scale']} scale",
        "",
        f"{results['params']['officers']} officers x {results['params']['years']} years "
        f"(seed {results['params']['seed']}, history to {results['params']['until']}): "
        + ", ".join(f"{k.split('_', 1)[1]} {v:,}" for k, v in results["data"]["rows"].items())
        + f"; database {results['data']['database_size']}, "
        f"PostgreSQL {results['data']['postgres']}.",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"{results['machine']['memory']}, Python {results['machine']['python']}.",
        "",
        "| benchmark | service | floor | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    verdict = {v["target"]: "PASS" if v["pass"] else "MISS" for v in results["targets"]}
    lines += [
        f"| full sweep ({s['officers_viewing']} officers viewing on {s.get('day', 'the day')}) "
        f"| {s['full_ms']} ms | "
        f"{s['floor_ms']} ms | {ratio(s['full_ms'], s['floor_ms'])} | <= 2x | {verdict['sweep']} |",
        f"| incremental sweep ({s['incremental_officers']} officers) | {s['incremental_ms']} ms | "
        f"{s['full_ms']} ms (full) | {s['incremental_ms'] / s['full_ms']:.1%} | <= 10% | "
        f"{verdict['incremental']} |",
        f"| logging, requests/s ({lg['connections']} connections) | {lg['service']['rps']} | "
        f"{lg['bare']['rps']} | {ratio(lg['service']['rps'], lg['bare']['rps'])} | >= 200/s | "
        f"{verdict['logging_throughput']} |",
        f"| logging p50 / p99 | {lg['service']['p50_ms']} / {lg['service']['p99_ms']} ms | "
        f"{lg['bare']['p50_ms']} / {lg['bare']['p99_ms']} ms | | p99 <= 50 ms | "
        f"{verdict['logging_p99']} |",
        f"| logging integrity | {lg['acknowledged']} acknowledged, {lg['lost']} lost, "
        f"{lg['duplicates']} duplicates, {lg['service']['errors']} errors | | | zero | "
        f"{verdict['logging_integrity']} |",
    ]
    for name, r in rd.items():
        lines.append(
            f"| read: {name.replace('_', ' ')} p50 / p99 ({r['rps']} req/s) | {r['p50_ms']} / "
            f"{r['p99_ms']} ms | | | p99 <= 50 ms | {verdict['reads_p99']} |"
        )
    lines += [
        f"| queries per request, teams of {q['team_sizes'][0]} and {q['team_sizes'][1]} | "
        f"summary {q['team_summary']}, alerts {q['alerts']}, OH cases {q['oh_cases']} | | | "
        f"constant | {verdict['queries_constant']} |",
        f"| statistics: exposure by unit and month ({st['rows']} rows, {st['months']} months) | "
        f"{st['service_ms']} ms | {st['floor_ms']} ms | "
        f"{ratio(st['service_ms'], st['floor_ms'])} | <= 1.5x | {verdict['statistics']} |",
        f"| run_jobs: first catch-up / an hour later / next morning | "
        f"{j['first_ms']} / {j['steady_ms']} / {j['next_morning_ms']} ms | | | | |",
        f"| peak memory: run_jobs (first catch-up) | {j['peak_rss_mb']} MB | | | | |",
        f"| peak memory: statistics | {st['peak_rss_mb']} MB | | | | |",
        "",
        f"First sweep of the day (raising {s['first_run_alerts']} alerts): {s['first_run_ms']} ms; "
        f"first incremental sweep: {s['incremental_first_ms']} ms. Times are medians of "
        f"{s['repeats']} runs; HTTP runs {lg['duration']} s each with wrk.",
    ]
    if "memory" in results:
        m = results["memory"]
        lines.append(
            f"Peak memory, national / force: run_jobs {m['run_jobs']}, statistics "
            f"{m['statistics']} (target <= 1.5x): {'PASS' if m['pass'] else 'MISS'}."
        )
    return "\n".join(lines) + "\n"


def _sized(results: dict[str, Any], scale: Scale) -> bool:
    params = results.get("params", {})
    return bool(params.get("officers") == scale.officers and params.get("years") == scale.years)


def write_results(out: Path, results: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    everything: dict[str, Any] = {}
    if path.exists():
        try:
            everything = json.loads(path.read_text())
        except json.JSONDecodeError:
            everything = {}
    everything[results["scale"]] = results
    national = everything.get("national")
    force = everything.get("force") or next(  # or the curve's size of a force
        (r for r in everything.values() if _sized(r, SCALES["force"])), None
    )
    if force and national:
        ratios = {
            "run_jobs": round(national["jobs"]["peak_rss_mb"] / force["jobs"]["peak_rss_mb"], 2),
            "statistics": round(
                national["stats"]["peak_rss_mb"] / force["stats"]["peak_rss_mb"], 2
            ),
        }
        national["memory"] = {**ratios, "pass": all(v <= 1.5 for v in ratios.values())}
    path.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    known = ("force", "national", "tiny")
    order = [
        everything[k] for k in (*known, *sorted(set(everything) - set(known))) if k in everything
    ]
    # A curve's longer history is measured in-process only (no HTTP): no table of its own.
    (out / "results.md").write_text("\n".join(table(r) for r in order if "logging" in r))


# --- Main ---------------------------------------------------------------------------------------


CURVE_SIZES = (500, 2000, 8000)
CURVE_YEARS = 2.0
HISTORY_YEARS = 6.0
GENERATION_LIMIT_S = 900  # the curve's largest size generates within 15 minutes


def _years(value: float) -> str:
    return f"{value:g}".replace(".", "_")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--scale", choices=[*sorted(SCALES), "curve"], default="curve")
    parser.add_argument("--duration", type=int, default=20, help="seconds per HTTP run")
    parser.add_argument(
        "--connections", type=int, default=2 * (os.cpu_count() or 2), help="wrk connections"
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "bench")
    parser.add_argument("--until", type=date.fromisoformat, help="last day of history")
    parser.add_argument(
        "--database", help="database name (default welfare_bench_<scale>; the curve: a prefix)"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    parser.add_argument(
        "--sizes", default=",".join(map(str, CURVE_SIZES)),
        help="curve: officers at each size (comma-separated)",
    )  # fmt: skip
    parser.add_argument("--years", type=float, default=CURVE_YEARS, help="curve: history")
    parser.add_argument(
        "--history-years", type=float, default=HISTORY_YEARS,
        help="curve: the longer history the smallest size's memory is compared at",
    )  # fmt: skip
    args = parser.parse_args(argv)
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        print("DATABASE_URL is not set (make bench sets it).", file=sys.stderr)
        return 2
    until = args.until or last_weekday_before(date.today())  # noqa: DTZ011 - a calendar day
    if args.scale == "curve":
        return run_curve(args, admin_url, until)
    name = args.database or f"welfare_bench_{args.scale}"
    results = point(args, admin_url, name, SCALES[args.scale], until, label=args.scale)
    write_results(args.out, results)
    print()
    print(table(json.loads((args.out / "results.json").read_text())[args.scale]))
    missed = [v["target"] for v in results["targets"] if not v["pass"]]
    print("All targets PASS." if not missed else f"MISS: {', '.join(missed)}")
    return 0


def point(
    args: argparse.Namespace, admin_url: str, name: str, scale: Scale, until: date, *,
    label: str, http: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Every benchmark at one size, in its own database (made unless it exists)."""
    params = {
        "officers": scale.officers,
        "years": scale.years,
        "seed": SEED,
        "until": until.isoformat(),
    }
    url = with_database(admin_url, name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "false", "BENCH_BARE_VIEW": "true",
           "PYTHONPATH": str(BASE_DIR)}  # fmt: skip
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    generated_s = prepare_database(admin_url, name, params, env, args.fresh)
    try:
        results = measure_all(args, scale, params, url, env, http=http)
    finally:
        if args.drop:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    results["scale"] = label
    results["generated_s"] = generated_s
    return results


def run_curve(args: argparse.Namespace, admin_url: str, until: date) -> int:
    """Every benchmark at each size (the same history), then the smallest size with a
    longer history, for memory; each cost's growth exponent with PASS or MISS."""
    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    prefix = args.database or "welfare_bench"
    writers = SCALES["force"].writers
    points = []
    for officers in sizes:
        log(f"--- {officers:,} officers x {args.years:g} years")
        scale = Scale(officers=officers, years=args.years, writers=min(writers, officers))
        name = f"{prefix}_{officers}x{_years(args.years)}y"
        label = f"{officers} officers x {args.years:g} years"
        points.append(point(args, admin_url, name, scale, until, label=label))
    longer = Scale(officers=sizes[0], years=args.history_years, writers=min(writers, sizes[0]))
    log(f"--- {longer.officers:,} officers x {longer.years:g} years (memory in history)")
    history = point(
        args, admin_url, f"{prefix}_{longer.officers}x{_years(longer.years)}y", longer, until,
        label=f"{longer.officers} officers x {longer.years:g} years", http=False,
    )  # fmt: skip
    generation = {
        p["scale"]: p["generated_s"] for p in (*points, history) if p["generated_s"] is not None
    }
    largest = generation.get(points[-1]["scale"])
    result = {
        "params": {"officers": sizes, "years": [args.years, args.history_years],
                   "until": until.isoformat(), "seed": SEED},
        "machine": machine(),
        "officers": curve.fit(curve.IN_OFFICERS, points, "officers"),
        "history": curve.fit(curve.IN_HISTORY, [points[0], history], "years"),
        "generation_s": generation,
        "generation_limit_s": GENERATION_LIMIT_S,
        "generation_pass": largest is not None and largest <= GENERATION_LIMIT_S,
        "points": points,
        "history_point": history,
    }  # fmt: skip
    for measured in (*points, history):
        write_results(args.out, measured)
    write_curve(args.out, result)
    print()
    print((args.out / "curve.md").read_text())
    missed = curve.verdicts(result) + [
        f"{p['scale']}: {v['target']}" for p in points for v in p["targets"] if not v["pass"]
    ]
    if not result["generation_pass"]:
        missed.append("generation time")
    print("All targets PASS." if not missed else f"MISS: {', '.join(missed)}")
    return 0


def write_curve(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "curve.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (out / "curve.md").write_text(
        curve.table(result) + "\n" + "\n".join(table(p) for p in result["points"])
    )


def measure_all(
    args: argparse.Namespace, scale: Scale, params: dict[str, Any], url: str, env: dict[str, str],
    *, http: bool = True,
) -> dict[str, Any]:  # fmt: skip
    until = date.fromisoformat(params["until"])
    results: dict[str, Any] = {"scale": args.scale, "params": params, "machine": machine()}
    results["data"] = data_size(url)
    day = until.isoformat()
    log("Sweep...")
    results["sweep"] = measure("sweep", env, "--until", day, "--repeats", str(args.repeats))
    log("run_jobs...")
    results["jobs"] = measure("jobs", env, "--until", day)
    log("Statistics...")
    results["stats"] = measure("stats", env, "--repeats", str(max(3, args.repeats // 2)))
    log("Queries per request...")
    results["queries"] = measure("queries", env, "--until", day)
    if not http:
        return results

    tokens_dir = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    try:
        issued = measure("tokens", env, "--until", day, "--out", str(tokens_dir),
                         "--writers", str(scale.writers))  # fmt: skip
        writers = [
            int(line.split()[1]) for line in (tokens_dir / "writers.txt").read_text().splitlines()
        ]
        cores = os.cpu_count() or 2
        threads = min(2, args.connections)
        with server(env, workers=2 * cores) as base:
            # Warm every worker up (imports, first queries) on both paths; not recorded.
            logging_run(
                base, env, tokens_dir, mode="service", start=issued["base"], threads=threads,
                connections=2 * cores, duration=3,
            )  # fmt: skip
            wrk(base + "/", "read.lua",
                {**env, "BENCH_TOKENS": str(tokens_dir / "read-team_summary.txt")},
                threads=threads, connections=2 * cores, duration=2)  # fmt: skip
            log(f"Logging through {base} for {args.duration}s (service, then bare view)...")
            service, acked, run_id = logging_run(
                base, env, tokens_dir, mode="service",
                start=next_free(url, writers, issued["base"]), threads=threads,
                connections=args.connections, duration=args.duration,
            )  # fmt: skip
            checked = integrity(url, acked, run_id)
            bare, _, _ = logging_run(
                base, env, tokens_dir, mode="bare", start=next_free(url, writers, issued["base"]),
                threads=threads, connections=args.connections, duration=args.duration,
            )  # fmt: skip
            results["logging"] = {"service": service, "bare": bare, "connections": args.connections,
                                  "duration": args.duration, **checked}  # fmt: skip
            results["reads"] = {}
            for name_ in ("team_summary", "alerts", "oh_cases"):
                log(f"Reads: {name_}...")
                results["reads"][name_] = wrk(
                    base + "/", "read.lua",
                    {**env, "BENCH_TOKENS": str(tokens_dir / f"read-{name_}.txt")},
                    threads=threads, connections=args.connections, duration=args.duration,
                )  # fmt: skip
    finally:
        shutil.rmtree(tokens_dir, ignore_errors=True)
    results["targets"] = verdicts(results)
    return results


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
