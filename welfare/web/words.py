"""Names from the code said in words, for the pages (the API and downloads keep the names)."""

from __future__ import annotations

STAT_WORDS = {
    "unit": "Unit",
    "unit_kind": "Kind of unit",
    "month": "Month",
    "quarter": "Quarter",
    "kind": "Kind of alert",
    "time_in_post": "Time in post (months)",
    "people": "People",
    "hours": "Hours viewed",
    "weighted_hours": "Weighted hours",
    "median_hours": "Median hours per person",
    "person_weeks": "Person-weeks",
    "weeks_over_limit_pct": "Weeks over the weekly limit (%)",
    "violent_pct": "Violent material (%)",
    "due": "Check-ins due",
    "completed_on_time": "Done on time",
    "completed_late": "Done late",
    "overdue": "Overdue",
    "missed": "Missed",
    "on_time_pct": "On time (% of due)",
    "raised": "Raised",
    "acknowledged_within_48h": "Acknowledged within 48 hours",
    "resolved": "Resolved",
}


def stat_words(column: str) -> str:
    """A statistics column or grouping in words ("image_pct" as "Image (%)")."""
    if column in STAT_WORDS:
        return STAT_WORDS[column]
    if column.startswith("category_") and column.endswith("_pct"):
        return f"Category {column[9:-4].upper()} (%)"
    if column.endswith("_pct"):
        return f"{column[:-4].replace('_', ' ').capitalize()} (%)"
    return column.replace("_", " ").capitalize()
