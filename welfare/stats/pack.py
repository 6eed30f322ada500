"""The quarterly pack for a board report: the tables as CSV and Excel and two charts, all
under the stricter disclosure control of material that leaves HR (the board audience,
STATS_K_BOARD, 10 by default), and the same figures any API output of that quarter and
audience shows."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen: charts go straight to PNG
import matplotlib.pyplot as plt

from welfare.core.db import reporting_read
from welfare.stats import rules, selectors
from welfare.stats.api import configured, published
from welfare.stats.renderers import CSVRenderer, XLSXRenderer

PACK_AUDIENCE = "board"


def _write(table: selectors.Table, out: Path) -> list[Path]:
    """The table as CSV and Excel, each named for how it was protected (the CSV carries no
    parameters inside: they are in its name and in the workbook's About sheet)."""
    data = published(table)
    paths = [out / rules.export_filename(data["parameters"], ext) for ext in ("csv", "xlsx")]
    paths[0].write_bytes(CSVRenderer().render(data))
    paths[1].write_bytes(XLSXRenderer().render(data))
    return paths


def _chart_exposure(table: selectors.Table, path: Path) -> None:
    cells = table.cells()
    months = sorted(cells["month"].unique())
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    for unit, rows in cells.groupby("unit"):
        by_month = {
            row["month"]: (math.nan if row[rules.SUPPRESSED] else float(row["hours"]))
            for _, row in rows.iterrows()
        }
        values = [by_month.get(month, math.nan) for month in months]
        axes.plot(range(len(months)), values, marker="o", label=str(unit))
    axes.set_xticks(range(len(months)), months)
    axes.set_title("Viewing hours by unit and month (withheld cells not drawn)")
    axes.set_xlabel("Month")
    axes.set_ylabel("Hours")
    if len(cells):
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _chart_on_time(table: selectors.Table, path: Path) -> None:
    cells = table.cells()
    shown = cells[~cells[rules.SUPPRESSED]]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    axes.bar([str(u) for u in shown["unit"]], shown["on_time_pct"].astype(float), color="#1d70b8")
    axes.set_ylim(0, 100)
    axes.set_title("Check-ins completed on time, by unit (%)")
    axes.set_ylabel("Per cent on time")
    withheld = int(cells[rules.SUPPRESSED].sum())
    if withheld:
        axes.text(
            0.99,
            0.97,
            f"{withheld} unit(s) withheld",
            transform=axes.transAxes,
            ha="right",
            va="top",
        )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_pack(
    *, quarter: str, out: Path, today: date, audience: str = PACK_AUDIENCE
) -> list[Path]:
    """ValueError for a quarter not yet ended or an unknown audience."""
    start, end = rules.ended_quarter(quarter, today)
    quarter = rules.quarter_label(start)
    protection = configured(audience)
    out.mkdir(parents=True, exist_ok=True)

    def tables(using: str) -> tuple[selectors.Table, ...]:
        """The pack's four tables from one database and one snapshot of it."""
        return (
            selectors.exposure_table(["unit", "month"], start, end, protection, using=using),
            selectors.checkins_table(["unit", "quarter"], start, end, protection, using=using),
            selectors.alerts_table(["kind", "month"], start, end, protection, using=using),
            selectors.rotation_table(
                ["unit"], protection, day=end - timedelta(days=1), using=using
            ),
        )

    exposure, checkins, alerts, rotation = reporting_read(tables)
    written: list[Path] = []
    for table in (exposure, checkins, alerts, rotation):
        written += _write(table, out)
    charts = [
        out / f"exposure_hours_by_unit_{quarter}.png",
        out / f"checkins_on_time_{quarter}.png",
    ]
    _chart_exposure(exposure, charts[0])
    _chart_on_time(checkins, charts[1])
    return written + charts
