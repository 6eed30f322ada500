"""Exports that are safe to open in a spreadsheet: no text cell runs as a formula, the CSV is
one plain table pandas reads as it stands, and how it was protected travels beside it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from schedules.runner import run_all
from tests.conftest import Cast, client_for, officer_who_viewed, web_client_for
from welfare.people.models import UnitKind
from welfare.people.services import unit_create
from welfare.stats import rules
from welfare.stats.renderers import MARKER, WITHHELD, CSVRenderer, XLSXRenderer

DANGEROUS = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1", "\tTAB", "\rCR"]
BIG = DANGEROUS[0]  # six people: its cells are published, so they carry numbers
QUERY = "group_by=unit,month&period=2027Q1"
API = f"/api/v1/stats/exposure?{QUERY}"
WEB = f"/hr/download?table=exposure&{QUERY}"
COLUMNS_START = ["unit", "month", "people", "hours"]


# --- The rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("=", "'="),
        ("Online CSE", "Online CSE"),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),
        ("", ""),
        ("'=1", "'=1"),
        (-1, -1),
        (-2.5, -2.5),
        (0, 0),
        (True, True),
        (None, None),
    ],
)
def test_neutralise(value: Any, expected: Any) -> None:
    result = rules.neutralise(value)
    assert result == expected
    assert type(result) is type(expected)


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()))
def test_neutralised_text_never_starts_a_formula_and_once_is_enough(value: Any) -> None:
    once = rules.neutralise(value)
    assert rules.neutralise(once) == once
    if isinstance(value, str):
        assert not once.startswith(rules.FORMULA_STARTS)
        assert once.removeprefix("'") == value or once == value
    else:
        assert once == value


PARAMETERS = {
    "table": "exposure",
    "group_by": ["unit_kind", "quarter"],
    "from": "2027-01-01",
    "to": "2027-06-30",
    "k": 10,
    "rounding": "counts down to a multiple of 5, hours to whole hours",
}


@pytest.mark.parametrize(
    ("parameters", "extension", "expected"),
    [
        (
            PARAMETERS,
            "csv",
            "welfare-stats-exposure-by-unit_kind-quarter-2027-01-01-to-2027-06-30-k10.csv",
        ),
        (
            {**PARAMETERS, "table": "rotation", "group_by": ["unit"], "k": 5},
            "xlsx",
            "welfare-stats-rotation-by-unit-2027-01-01-to-2027-06-30-k5.xlsx",
        ),
        (
            {**PARAMETERS, "table": '../"x;y'},
            "csv",
            "welfare-stats-x_y-by-unit_kind-quarter-2027-01-01-to-2027-06-30-k10.csv",
        ),
    ],
)
def test_export_filename(parameters: dict, extension: str, expected: str) -> None:
    assert rules.export_filename(parameters, extension) == expected


def test_parameter_headers_one_per_parameter_on_one_line() -> None:
    headers = rules.parameter_headers({**PARAMETERS, "note": "two\r\nlines é"})
    assert headers == {
        "X-Stats-Table": "exposure",
        "X-Stats-Group-By": "unit_kind,quarter",
        "X-Stats-From": "2027-01-01",
        "X-Stats-To": "2027-06-30",
        "X-Stats-K": "10",
        "X-Stats-Rounding": "counts down to a multiple of 5, hours to whole hours",
        "X-Stats-Note": "two??lines ?",
    }


# --- The renderers, on a table made by hand ------------------------------------------------------


def hand_table() -> dict[str, Any]:
    return {
        "parameters": {**PARAMETERS, "group_by": ["unit"]},
        "columns": ["unit", "people", "hours", "label", rules.SUPPRESSED],
        "rows": [
            {"unit": "-5", "people": 10, "hours": -3, "label": "=1+1", rules.SUPPRESSED: False},
            {"unit": "+A", "people": None, "hours": None, "label": None, rules.SUPPRESSED: True},
        ],
        "totals": [
            {"unit": None, "people": 15, "hours": 2.5, "label": "-x", rules.SUPPRESSED: False}
        ],
    }


def test_csv_keeps_numbers_and_quotes_text() -> None:
    body = CSVRenderer().render(hand_table()).decode()
    assert body == (
        "unit,people,hours,label\r\n"
        "'-5,10,-3,'=1+1\r\n"
        f"'+A,{MARKER},{MARKER},{MARKER}\r\n"
        "All,15,2.5,'-x\r\n"
    )
    frame = pd.read_csv(io.StringIO(body), na_values=[MARKER])
    assert frame["hours"].tolist()[0] == -3
    assert frame["unit"].tolist() == ["'-5", "'+A", "All"]


def test_xlsx_numbers_are_numbers_and_text_is_never_a_formula() -> None:
    book = openpyxl.load_workbook(io.BytesIO(XLSXRenderer().render(hand_table())))
    sheet = book["Statistics"]
    first = [cell for cell in sheet[2]]
    assert [(c.value, c.data_type) for c in first] == [
        ("'-5", "s"),
        (10, "n"),
        (-3, "n"),
        ("'=1+1", "s"),
    ]
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["k"] == "10"
    assert about["withheld"] == WITHHELD


def test_an_error_as_csv_is_quoted_too() -> None:
    body = CSVRenderer().render({"detail": "=cmd|' /C calc'!A0"}).decode()
    assert body == "detail,'=cmd|' /C calc'!A0\r\n"


# --- Through the API, the web download and the pack ----------------------------------------------


@pytest.fixture
def force(cast: Cast, clock) -> None:
    """A unit for each dangerous name, all viewing in February 2027: the first has six people
    (published), the others one each (withheld, but their names still show); today is in
    the next quarter."""
    clock.set(datetime(2027, 4, 10, 18, tzinfo=UTC))
    for index, name in enumerate(DANGEROUS):
        unit = unit_create(actor=cast.admin, name=name, kind=UnitKind.ONLINE_CSE)
        for n in range(6 if name == BIG else 1):
            officer_who_viewed(
                cast,
                f"safe.{index}.{n}",
                unit=unit,
                staff_number=f"SX{index}{n:03d}",
                display_name=f"Safe {index} {n}",
                posted_since=date(2026, 1, 1),
                sessions=[(datetime(2027, 2, 2, 9, tzinfo=UTC), 60 + 10 * n)],
            )
    run_all(clock.now())


def expected_units() -> set[str]:
    return {"'" + name for name in DANGEROUS}


def check_csv(body: str, expected: dict[str, Any]) -> None:
    """One plain RFC 4180 table: CRLF, no preamble, pandas reads it as it stands."""
    assert body.endswith("\r\n")
    assert re.search(r"(?<!\r)\n", body) is None  # every line break is CRLF
    frame = pd.read_csv(io.StringIO(body))
    json_columns = [c for c in expected["columns"] if c != rules.SUPPRESSED]
    assert list(frame.columns) == json_columns
    assert list(frame.columns[:4]) == COLUMNS_START
    assert len(frame) == len(expected["rows"]) + len(expected["totals"])
    units = set(frame["unit"])
    assert expected_units() <= units
    assert not [u for u in units if u.startswith(rules.FORMULA_STARTS)]
    # Numbers are still numbers: the published unit's people as a bare, unquoted number.
    published = next(r for r in expected["rows"] if r["unit"] == BIG)
    assert published["suppressed"] is False
    rows = list(csv.reader(io.StringIO(body, newline="")))
    big_row = next(r for r in rows if r[0] == "'" + BIG)
    assert big_row[2] == str(published["people"])
    numbers = pd.read_csv(io.StringIO(body), na_values=[MARKER])
    assert pd.api.types.is_numeric_dtype(numbers["people"])


def check_xlsx(content: bytes, expected: dict[str, Any]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Statistics"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
            if isinstance(cell.value, str):
                assert cell.data_type == "s"
                assert not cell.value.startswith(rules.FORMULA_STARTS)
    units = [c.value for c in sheet["A"][1:]]
    # XML reads a raw CR in text as a line feed (XML 1.0, 2.11), as Excel does: the prefix stays.
    assert {u.replace("\r", "\n") for u in expected_units()} <= set(units)
    published = next(r for r in expected["rows"] if r["unit"] == BIG)
    big = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "'" + BIG)
    assert (big[2].value, big[2].data_type) == (published["people"], "n")
    about = dict(book["About"].iter_rows(values_only=True))
    parameters = expected["parameters"]
    assert about["k"] == str(parameters["k"])
    assert about["group_by"] == "unit,month"
    assert about["from"] == parameters["from"]
    assert about["to"] == parameters["to"]
    assert about["rounding"] == parameters["rounding"]
    assert about["suppression"] == parameters["suppression"]
    assert about["withheld"] == WITHHELD


def check_headers(response: Any, expected: dict[str, Any], extension: str) -> None:
    parameters = expected["parameters"]
    assert response["X-Stats-K"] == str(parameters["k"])
    assert response["X-Stats-Table"] == "exposure"
    assert response["X-Stats-Group-By"] == "unit,month"
    assert response["X-Stats-From"] == parameters["from"]
    assert response["X-Stats-To"] == parameters["to"]
    assert response["X-Stats-Rounding"] == parameters["rounding"]
    assert response["X-Stats-Suppression"] == parameters["suppression"]
    assert response["X-Stats-Withheld"] == WITHHELD
    name = f"welfare-stats-exposure-by-unit-month-2027-01-01-to-2027-03-31-k5.{extension}"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'


def test_api_csv_is_neutralised_plain_and_labelled(cast: Cast, force) -> None:
    client = client_for(cast.hr)
    expected = client.get(API).json()
    response = client.get(API + "&format=csv")
    assert response.status_code == 200
    check_csv(response.content.decode(), expected)
    check_headers(response, expected, "csv")


def test_api_xlsx_is_neutralised_and_labelled(cast: Cast, force) -> None:
    client = client_for(cast.hr)
    expected = client.get(API).json()
    response = client.get(API + "&format=xlsx")
    assert response.status_code == 200
    check_xlsx(response.content, expected)
    check_headers(response, expected, "xlsx")


def test_web_download_is_neutralised_and_labelled(cast: Cast, force) -> None:
    expected = client_for(cast.hr).get(API).json()
    web = web_client_for(cast.hr)
    as_csv = web.get(WEB + "&format=csv")
    as_xlsx = web.get(WEB + "&format=xlsx")
    assert (as_csv.status_code, as_xlsx.status_code) == (200, 200)
    check_csv(as_csv.content.decode(), expected)
    check_headers(as_csv, expected, "csv")
    check_xlsx(as_xlsx.content, expected)
    check_headers(as_xlsx, expected, "xlsx")


def test_pack_files_are_neutralised_and_named_for_their_protection(
    cast: Cast, force, tmp_path: Path
) -> None:
    call_command("stats_pack", "--quarter", "2027Q1", "--out", str(tmp_path), "--audience", "hr")
    stem = "welfare-stats-exposure-by-unit-month-2027-01-01-to-2027-03-31-k5"
    body = (tmp_path / f"{stem}.csv").read_bytes().decode()
    quarter = client_for(cast.hr).get("/api/v1/stats/exposure?group_by=unit,month&period=2027Q1")
    expected = quarter.json()
    check_csv(body, expected)
    check_xlsx((tmp_path / f"{stem}.xlsx").read_bytes(), expected)
    rotation = [p.name for p in tmp_path.glob("welfare-stats-rotation-*-k5.csv")]
    assert rotation == [
        "welfare-stats-rotation-by-unit-time_in_post-2027-03-31-to-2027-03-31-k5.csv"
    ]
    rotation_rows = csv.reader(io.StringIO((tmp_path / rotation[0]).read_bytes().decode()))
    assert expected_units() <= {row[0] for row in rotation_rows}
