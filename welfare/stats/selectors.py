"""Statistics: PostgreSQL groups (with GROUPING SETS for the totals), pandas protects.

Every query returns already-aggregated rows, a handful per unit and period, whatever the
size of the history: memory stays bounded. No query returns an identifier, a name or free
text; screening, notes and clinical alerts are never read here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.db import DEFAULT_DB_ALIAS

from welfare.alerts.selectors import alert_stat_rows
from welfare.checkins.selectors import checkin_stat_rows
from welfare.core import clock
from welfare.core.db import Rows
from welfare.exposure.selectors import TOTALS_CATEGORIES, TOTALS_MEDIA, exposure_stats
from welfare.people.selectors import time_in_post_rows, unit_kinds
from welfare.stats import rules


def _frame(rows: Rows) -> pd.DataFrame:
    return pd.DataFrame(rows.values, columns=rows.columns)


Frames = tuple[pd.DataFrame, list[pd.DataFrame]]


def _from(read: Callable[..., Rows]) -> Callable[..., Frames]:
    """An owning app's aggregate read, as the frames disclosure control works on: the asked
    grouping's, then each other grouping's (read alike, from the same database)."""

    def frames(
        dims: Sequence[str], others: Sequence[Sequence[str]], first: date, end: date, using: str
    ) -> Frames:
        return _frame(read(dims, first, end, using=using)), [
            _frame(read(g, first, end, using=using)) for g in others
        ]

    return frames


def _exposure_frames(
    dims: Sequence[str], others: Sequence[Sequence[str]], first: date, end: date, using: str
) -> Frames:
    """The exposure table, and the other groupings' head-counts from the same statement."""
    stats = exposure_stats(dims, first, end, people_of=others, using=using)
    return stats.table, [stats.people[tuple(g)] for g in others]


@dataclass
class Table:
    """A protected table and how it was protected."""

    name: str
    dims: list[str]
    columns: list[str]
    frame: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> pd.DataFrame:
        return self.frame[self.frame[self.dims].notna().all(axis=1)]

    def totals(self) -> pd.DataFrame:
        return self.frame[self.frame[self.dims].isna().any(axis=1)]


def _parameters(
    name: str, dims: Sequence[str], first: date, end: date, protection: rules.Protection
) -> dict[str, Any]:
    return {
        "table": name,
        "group_by": list(dims),
        "from": first.isoformat(),
        "to": (end.fromordinal(end.toordinal() - 1)).isoformat(),
        "audience": protection.audience,
        "k": protection.k,
        "rounding": (
            f"counts down to a multiple of {protection.rounding}, hours to whole hours, "
            "rates to whole per cent"
        ),
        "suppression": (
            f"cells and totals whose rounded head-count is under {protection.k} withheld; "
            "wherever any output of the period publishes a total, its withheld parts are "
            f"none or at least two, one of {protection.k} or more people, and no withheld "
            f"figure under {protection.k} follows from the published ones"
        ),
        "people": "distinct officers",
        "generated_at": clock.now().isoformat(),
    }


def _quarter_only(first: date, end: date) -> bool:
    start, stop = rules.quarter_of(first)
    return (start, stop) == (first, end)


def _joint(
    read: Callable[..., Frames],
    dims: Sequence[str],
    widest: Sequence[Sequence[str]],
    first: date,
    end: date,
    protection: rules.Protection,
    using: str,
) -> tuple[pd.DataFrame, pd.Series]:
    """The asked grouping's figures and which to withhold, decided over every figure the
    widest groupings of the same period publish (so every grouping agrees with every other,
    and a unit kind's figure is a total over its units'). Only head-counts decide, so the
    other groupings' frames need hold no more than their `people`."""
    universe = sorted({d for grouping in (*widest, dims) for d in grouping})
    if _quarter_only(first, end):
        universe = [d for d in universe if d != "quarter"]  # one quarter: the period itself
    others = [list(g) for g in widest if list(g) != list(dims)]
    frame, other_frames = read(dims, others, first, end, using)
    frames = [(frame, list(dims)), *zip(other_frames, others, strict=True)]
    kinds = unit_kinds(using=using)
    patterns = rules.joint_withheld(frames, universe=universe, kind_of=kinds, ks=protection.ladder)
    withheld = rules.withheld_rows(
        frame, dims, patterns[protection.k], universe=universe, kind_of=kinds
    )
    return frame, withheld


# --- Exposure --------------------------------------------------------------------------------

MEDIA = TOTALS_MEDIA  # exposure's own lists, not a copy that could drift
CATEGORIES = TOTALS_CATEGORIES


WIDEST_EXPOSURE = (("unit", "month"), ("unit_kind", "month"))


def exposure_table(
    dims: Sequence[str],
    first: date,
    end: date,
    protection: rules.Protection,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> Table:
    """The exposure figures of one grouping, protected with every other grouping's (read
    from `using`: the statistics' `welfare.core.db.reporting_alias()`, as every table here)."""
    frame, withheld = _joint(_exposure_frames, dims, WIDEST_EXPOSURE, first, end, protection, using)
    rates = [
        "violent_pct",
        *(f"{m}_pct" for m in MEDIA),
        *(f"category_{c}_pct" for c in CATEGORIES),
        "weeks_over_limit_pct",
    ]
    protected = rules.protect(
        frame,
        dims=dims,
        protection=protection,
        counts=["person_weeks"],
        hours=["hours", "weighted_hours", "median_hours"],
        rates=rates,
        withheld=withheld,
    )
    columns = [
        *dims, "people", "hours", "median_hours", "weighted_hours", "person_weeks",
        "weeks_over_limit_pct", "violent_pct", *(f"{m}_pct" for m in MEDIA),
        *(f"category_{c}_pct" for c in CATEGORIES), rules.SUPPRESSED,
    ]  # fmt: skip
    return Table(
        "exposure",
        list(dims),
        columns,
        protected[columns],
        _parameters("exposure", dims, first, end, protection),
    )


WIDEST_CHECKINS = (("unit", "month"), ("unit_kind", "month"))
WIDEST_ALERTS = (
    ("kind", "unit"),
    ("kind", "unit_kind"),
    ("kind", "month"),
    ("unit", "month"),
    ("unit_kind", "month"),
)


# --- Check-ins ------------------------------------------------------------------------------------


def checkins_table(
    dims: Sequence[str],
    first: date,
    end: date,
    protection: rules.Protection,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> Table:
    """The check-in figures of one grouping, protected with every other grouping's."""
    frame, withheld = _joint(
        _from(checkin_stat_rows), dims, WIDEST_CHECKINS, first, end, protection, using
    )
    counts = ["due", "completed_on_time", "completed_late", "overdue", "missed"]
    protected = rules.protect(
        frame,
        dims=dims,
        protection=protection,
        counts=counts,
        rates=["on_time_pct"],
        withheld=withheld,
    )
    columns = [*dims, "people", *counts, "on_time_pct", rules.SUPPRESSED]
    return Table(
        "checkins",
        list(dims),
        columns,
        protected[columns],
        _parameters("checkins", dims, first, end, protection),
    )


# --- Alerts -------------------------------------------------------------------------------------


def alerts_table(
    dims: Sequence[str],
    first: date,
    end: date,
    protection: rules.Protection,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> Table:
    """The alert figures of one grouping, protected with every other grouping's."""
    frame, withheld = _joint(
        _from(alert_stat_rows), dims, WIDEST_ALERTS, first, end, protection, using
    )
    counts = ["raised", "acknowledged_within_48h", "resolved"]
    protected = rules.protect(
        frame, dims=dims, protection=protection, counts=counts, withheld=withheld
    )
    columns = [*dims, "people", *counts, rules.SUPPRESSED]
    return Table(
        "alerts",
        list(dims),
        columns,
        protected[columns],
        _parameters("alerts", dims, first, end, protection),
    )


# --- Rotation -------------------------------------------------------------------------------------

WIDEST_ROTATION = (("unit", "time_in_post"), ("unit_kind", "time_in_post"))


def rotation_table(
    dims: Sequence[str], protection: rules.Protection, *, day: date, using: str = DEFAULT_DB_ALIAS
) -> Table:
    """Time in post of everyone posted on `day` (the last day of an ended quarter, so the
    figures do not change from one day to the next), in bands."""
    table_dims = [dims[0], "time_in_post"]
    end = day + timedelta(days=1)
    frame, withheld = _joint(
        _from(time_in_post_rows), table_dims, WIDEST_ROTATION, day, end, protection, using
    )
    protected = rules.protect(frame, dims=table_dims, protection=protection, withheld=withheld)
    columns = [*table_dims, "people", rules.SUPPRESSED]
    parameters = _parameters("rotation", table_dims, day, end, protection)
    return Table("rotation", table_dims, columns, protected[columns], parameters)
