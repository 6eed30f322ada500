"""The officer's "who opened my record" as visits, in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from welfare.casework.rules import visits

T = datetime(2027, 3, 10, 9, tzinfo=UTC)


def read(minutes: int, action: str, role: str = "oh", reader: str | None = None) -> dict:
    return {"at": T + timedelta(minutes=minutes), "action": action, "role": role, "reader": reader}


def test_one_row_per_visit_with_what_was_opened_in_words() -> None:
    reads = [
        read(0, "case.read"),
        read(1, "case.notes.read"),
        read(2, "case.read"),
        read(3, "screening.read"),
        read(5, "case.read"),
        read(6, "case.notes.read"),
        read(7, "report.read"),
        read(120, "case.read"),  # later that day: another visit
    ]
    later, first = visits(reads)
    assert first.first == T
    assert first.last == T + timedelta(minutes=7)
    assert first.who == "Occupational health"
    assert first.opened == [
        "your case summary",
        "case notes",
        "questionnaire answers",
        "a report about you",
    ]
    assert later.opened == ["your case summary"]
    assert "." not in " ".join(first.opened + later.opened)  # no codes like case.read


def test_different_people_are_different_visits_and_names_show_where_allowed() -> None:
    rows = visits(
        [
            read(0, "report.read", role="supervisor", reader="Sam Supervisor"),
            read(1, "case.read"),
            read(2, "subject_access.exported", role="system"),
        ]
    )
    assert [v.who for v in rows] == [
        "The service",
        "Occupational health",
        "Sam Supervisor (your supervisor)",
    ]
