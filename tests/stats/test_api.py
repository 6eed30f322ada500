"""HR statistics through the API and the quarterly pack: protected, in three formats, with
nothing that points at a person."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.test import override_settings

from schedules.runner import run_all
from tests.conftest import Cast, client_for, officer_who_viewed
from welfare.audit.models import AuditEvent
from welfare.casework.services import note_write
from welfare.exposure.selectors import exposure_stat_rows, exposure_stats
from welfare.people.models import Officer, UnitKind
from welfare.people.services import unit_create
from welfare.stats.rules import BAD_PERIOD, K_FROM_CONFIGURATION

NOTE_TEXT = "STATS-NOTE-MARKER private words"


@pytest.fixture
def force(cast: Cast, clock) -> dict[str, list[Officer]]:
    """Four more units of 3, 5, 7 and 12 people, each viewing in February 2027; today is in
    the next quarter, so 2027Q1 has ended and is published."""
    clock.set(datetime(2027, 4, 10, 18, tzinfo=UTC))
    units: dict[str, list[Officer]] = {}
    for name, size in (("Three", 3), ("Five", 5), ("Seven", 7), ("Twelve", 12)):
        unit = unit_create(actor=cast.admin, name=name, kind=UnitKind.ONLINE_CSE)
        units[name] = []
        for n in range(size):
            officer = officer_who_viewed(
                cast,
                f"{name.lower()}.{n}",
                unit=unit,
                staff_number=f"{name[:2].upper()}{n:04d}",
                display_name=f"Person {name} {n}",
                posted_since=date(2026, 1, 1),
                sessions=[(datetime(2027, 2, day, 9, tzinfo=UTC), 60 + n) for day in (2, 9, 16)],
            )
            units[name].append(officer)
    note_write(actor=cast.oh1, officer=units["Seven"][0], body=NOTE_TEXT)
    run_all(clock.now())
    return units


def stats(cast: Cast, path: str, **extra):
    return client_for(cast.hr).get(path, **extra)


def cells(body: dict, **match) -> list[dict]:
    return [row for row in body["rows"] if all(row.get(k) == v for k, v in match.items())]


def test_small_units_are_withheld_and_the_rest_published(cast: Cast, force) -> None:
    body = stats(cast, "/api/v1/stats/exposure?group_by=unit,month&period=2027Q1").json()
    three = cells(body, unit="Three", month="2027-02")[0]
    assert three["suppressed"] is True
    assert three["people"] is None
    assert three["hours"] is None
    # The month's total is published, so one more cell goes with Three's: the smallest, Five.
    assert cells(body, unit="Five", month="2027-02")[0]["suppressed"] is True
    seven = cells(body, unit="Seven", month="2027-02")[0]
    assert seven["suppressed"] is False
    assert seven["people"] == 5  # 7 rounded down to its block of 5
    twelve = cells(body, unit="Twelve", month="2027-02")[0]
    assert twelve["people"] == 10
    assert twelve["hours"] == round(sum(3 * (60 + n) for n in range(12)) / 60)
    assert twelve["video_pct"] == 100
    assert twelve["median_hours"] is not None
    # A unit of 3 is never shown on its own: its row total is withheld too.
    three_total = next(row for row in body["totals"] if row["unit"] == "Three")
    assert three_total["suppressed"] is True
    assert (body["parameters"]["k"], body["parameters"]["audience"]) == (5, "hr")
    assert AuditEvent.objects.filter(action="stats.exposure", actor=cast.hr).exists()


def test_a_unit_of_seven_is_not_in_the_quarterly_pack(cast: Cast, force, tmp_path) -> None:
    call_command("stats_pack", "--quarter", "2027Q1", "--out", str(tmp_path))
    name = "welfare-stats-exposure-by-unit-month-2027-01-01-to-2027-03-31-k10.csv"
    text = (tmp_path / name).read_text()
    seven = [line for line in text.splitlines() if line.startswith("Seven,2027-02")]
    assert seven
    assert "[suppressed]" in seven[0]
    twelve = [line for line in text.splitlines() if line.startswith("Twelve,2027-02")]
    assert twelve
    assert "[suppressed]" not in twelve[0]
    assert {p.suffix for p in tmp_path.iterdir()} == {".csv", ".xlsx", ".png"}
    assert (tmp_path / "checkins_on_time_2027Q1.png").read_bytes().startswith(b"\x89PNG")


def _xlsx_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return " ".join(archive.read(name).decode(errors="replace") for name in archive.namelist())


def test_three_formats_carry_their_parameters(cast: Cast, force) -> None:
    path = "/api/v1/stats/checkins?group_by=unit,quarter&period=2027Q1"
    as_json = stats(cast, path)
    as_csv = stats(cast, path, HTTP_ACCEPT="text/csv")
    as_csv_param = stats(cast, path + "&format=csv")
    as_xlsx = stats(cast, path + "&format=xlsx")
    assert as_json["Content-Type"] == "application/json"
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_csv.content == as_csv_param.content
    assert "attachment" in as_xlsx["Content-Disposition"]
    text = as_csv.content.decode()
    assert as_csv["X-Stats-K"] == "5"
    assert as_csv["X-Stats-Group-By"] == "unit,quarter"
    assert "-k5.csv" in as_csv["Content-Disposition"]
    assert "[suppressed]" in text
    header = text.splitlines()[0]
    assert (
        header
        == "unit,quarter,people,due,completed_on_time,completed_late,overdue,missed,on_time_pct"
    )
    workbook = _xlsx_text(as_xlsx.content)
    assert "About" in workbook or "about" in workbook.lower()
    assert "suppressed" in workbook


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stats/exposure?group_by=unit,month&period=2027Q1",
        "/api/v1/stats/exposure?group_by=unit_kind,quarter&period=2027Q1",
        "/api/v1/stats/checkins?group_by=unit,quarter&period=2027Q1",
        "/api/v1/stats/alerts?group_by=kind,month&period=2027Q1",
        "/api/v1/stats/alerts?group_by=unit&period=2027Q1",
        "/api/v1/stats/rotation?group_by=unit",
    ],
)
def test_no_output_contains_anything_personal(cast: Cast, force, path: str, tmp_path) -> None:
    personal = [NOTE_TEXT, "STATS-NOTE-MARKER"]
    for officer in Officer.objects.select_related("user"):
        personal += [officer.user.username, officer.staff_number, officer.display_name]
    outputs = [stats(cast, path).content, stats(cast, path + "&format=csv").content]
    outputs.append(_xlsx_text(stats(cast, path + "&format=xlsx").content).encode())
    call_command("stats_pack", "--quarter", "2027Q1", "--out", str(tmp_path), "--audience", "hr")
    for file in tmp_path.iterdir():
        outputs.append(
            _xlsx_text(file.read_bytes()).encode() if file.suffix == ".xlsx" else file.read_bytes()
        )
    for output in outputs:
        for value in personal:
            assert value.encode() not in output, value


def test_clinical_alerts_are_not_counted(cast: Cast, force) -> None:
    body = stats(cast, "/api/v1/stats/alerts?group_by=kind&from=2027-01&to=2027-03").json()
    assert "screening_risk" not in {row["kind"] for row in body["rows"]}


def test_rotation_bands(cast: Cast, force) -> None:
    body = stats(cast, "/api/v1/stats/rotation?group_by=unit").json()
    twelve = cells(body, unit="Twelve", time_in_post="12-24 months")[0]
    assert twelve["people"] == 10
    assert {row["time_in_post"] for row in body["rows"]} <= {
        "0-12 months",
        "12-24 months",
        "24+ months",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=officer", "group_by"),
        ("group_by=unit,month,quarter", "group_by"),
        ("k=4", "k"),
        ("k=10", "k"),
        ("k=", "k"),
        ("audience=public", "audience"),
        ("from=2026-13&to=2026-12", "from"),
        ("from=2026-10&to=2026-1", "to"),
        ("from=2026-11&to=2026-12", "from"),  # not a whole quarter
        ("from=2026-11&to=2026-11", "from"),  # one month on its own
        ("from=2026-10", "to"),  # half a quarter's bounds
        ("from=2026-04&to=2026-12", "from"),  # three quarters
        ("from=2027-01&to=2027-03", "from"),  # the quarter in progress
        ("period=2027Q1", "period"),  # in progress
        ("period=2027Q3", "period"),  # to come
        ("period=2026-11", "period"),
        ("period=9999Q4", "period"),
        ("period=2026Q4&from=2026-10&to=2026-12", "period"),
        ("format=pdf", "format"),
    ],
)
def test_bad_parameters(cast: Cast, clock, query: str, field: str) -> None:
    clock.set(datetime(2027, 2, 14, 12, tzinfo=UTC))
    response = stats(cast, f"/api/v1/stats/exposure?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_k_is_refused_with_a_reason(cast: Cast) -> None:
    for table in ("exposure", "checkins", "alerts", "rotation"):
        response = stats(cast, f"/api/v1/stats/{table}?k=5")
        assert response.status_code == 400
        assert response.json()["k"] == [K_FROM_CONFIGURATION]


def test_a_period_not_an_ended_quarter_names_the_allowed_form(cast: Cast, clock) -> None:
    clock.set(datetime(2027, 2, 14, 12, tzinfo=UTC))
    response = stats(cast, "/api/v1/stats/exposure?from=2026-11&to=2026-12")
    assert response.json()["from"] == [BAD_PERIOD]


def test_the_default_period_is_the_last_ended_quarter(cast: Cast, force) -> None:
    body = stats(cast, "/api/v1/stats/exposure").json()
    assert (body["parameters"]["from"], body["parameters"]["to"]) == ("2027-01-01", "2027-03-31")
    same = stats(cast, "/api/v1/stats/exposure?from=2027-01&to=2027-03").json()
    assert same["rows"] == body["rows"]


def test_the_board_audience_is_stricter(cast: Cast, force) -> None:
    body = stats(cast, "/api/v1/stats/exposure?group_by=unit,month&audience=board").json()
    assert cells(body, unit="Seven", month="2027-02")[0]["suppressed"] is True
    assert body["parameters"]["k"] == 10
    assert body["parameters"]["audience"] == "board"


@override_settings(STATS_K_HR=7, STATS_K_BOARD=12)
def test_k_comes_from_configuration(cast: Cast, force) -> None:
    hr = stats(cast, "/api/v1/stats/exposure?group_by=unit,month").json()
    board = stats(cast, "/api/v1/stats/exposure?group_by=unit,month&audience=board").json()
    assert (hr["parameters"]["k"], board["parameters"]["k"]) == (7, 12)
    # 7 people: a rounded head-count of 5, under 7, so withheld for HR too.
    assert cells(hr, unit="Seven", month="2027-02")[0]["suppressed"] is True


def test_the_two_audiences_together_show_no_more_than_hr(cast: Cast, force) -> None:
    for group_by in ("unit,month", "unit_kind,month", "unit", "unit_kind"):
        path = f"/api/v1/stats/exposure?group_by={group_by}"
        hr = stats(cast, path).json()
        board = stats(cast, path + "&audience=board").json()
        for hr_row, board_row in zip(
            hr["rows"] + hr["totals"], board["rows"] + board["totals"], strict=True
        ):
            if hr_row["suppressed"]:
                assert board_row["suppressed"]
            elif not board_row["suppressed"]:
                assert board_row["hours"] == hr_row["hours"]


def test_only_hr_with_two_factor(cast: Cast) -> None:
    for user in (cast.officer_a1.user, cast.supervisor_a, cast.oh1, cast.admin):
        assert client_for(user).get("/api/v1/stats/exposure").status_code == 403
    refused = client_for(cast.hr, verified=False).get("/api/v1/stats/exposure")
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"
    assert client_for(None).get("/api/v1/stats/exposure").status_code == 401


@pytest.mark.parametrize("table", ["exposure", "checkins", "alerts", "rotation"])
def test_a_period_with_nothing_in_it(cast: Cast, table: str) -> None:
    response = stats(cast, f"/api/v1/stats/{table}?period=2020Q1")
    assert response.status_code == 200
    body = response.json()
    if table != "rotation":
        assert body["rows"] == []
    assert all(row["suppressed"] or row["people"] is not None for row in body["totals"])


@pytest.fixture
def autumn(cast: Cast, clock) -> dict[str, float]:
    """Issue 19's case: a unit of 11 viewing in October and November 2026, 3 of them in
    December; a unit of 20 every month. Today is in January 2027. Returns December's true
    hours for the small unit, the figure the attack recovered."""
    clock.set(datetime(2027, 1, 10, 18, tzinfo=UTC))
    december = 0.0
    for name, size in (("Eleven", 11), ("Twenty", 20)):
        unit = unit_create(actor=cast.admin, name=name, kind=UnitKind.ONLINE_CSE)
        for n in range(size):
            minutes = 120 + 37 * n
            months = [m for m in (10, 11, 12) if not (name == "Eleven" and m == 12 and n >= 3)]
            if name == "Eleven" and 12 in months:
                december += minutes / 60
            officer_who_viewed(
                cast,
                f"{name.lower()}.{n}",
                unit=unit,
                staff_number=f"{name[:2].upper()}{n:04d}",
                display_name=f"Person {name} {n}",
                posted_since=date(2026, 1, 1),
                sessions=[(datetime(2026, month, 6, 9, tzinfo=UTC), minutes) for month in months],
                material="image",
                category="C",
            )
    run_all(clock.now())
    return {"december": december}


def test_the_issue_differencing_attacks_are_refused(cast: Cast, autumn) -> None:
    base = "/api/v1/stats/exposure?group_by=unit"
    # Nov-Dec minus Nov: neither period may be asked for.
    for query in ("&from=2026-11&to=2026-12", "&from=2026-11&to=2026-11"):
        assert stats(cast, base + query).status_code == 400
    # A quarter minus its months, across every grouping of the quarter.
    quarter = stats(cast, base + ",quarter&period=2026Q4").json()
    months = stats(cast, base + ",month&period=2026Q4").json()
    alone = stats(cast, base + "&period=2026Q4").json()
    eleven_months = {r["month"]: r for r in cells(months, unit="Eleven")}
    assert eleven_months["2026-12"]["suppressed"] is True
    totals = [
        *cells(quarter, unit="Eleven"),
        *cells(alone, unit="Eleven"),
        *[r for r in months["totals"] if r["unit"] == "Eleven"],
    ]
    assert any(not t["suppressed"] for t in totals)
    for total in totals:
        if total["suppressed"]:
            continue
        shown = [r["hours"] for r in eleven_months.values() if not r["suppressed"]]
        # December never stands alone: another month is withheld with it.
        assert sum(r["suppressed"] for r in eleven_months.values()) >= 2
        assert abs(total["hours"] - sum(shown) - autumn["december"]) > 1
    # The same figure is shown alike in every grouping.
    assert {bool(t["suppressed"]) for t in totals} in ({True}, {False})


@pytest.mark.parametrize(
    ("dims", "asked"),
    [
        (("unit", "month"), ("unit_kind", "month")),
        (("unit_kind", "month"), ("unit", "month")),
        (("unit", "quarter"), ("unit_kind", "month")),
        (("unit_kind", "quarter"), ("unit", "month")),
    ],
)
def test_other_groupings_head_counts_are_their_own_tables(cast: Cast, autumn, dims, asked) -> None:
    """Suppression decides on the head-counts of other groupings that come with the asked
    table: each must be what that grouping's own table counts."""

    first, end = date(2026, 10, 1), date(2027, 1, 1)
    full = exposure_stat_rows(dims, first, end)
    heads = exposure_stats(asked, first, end, people_of=[dims]).people[dims]
    key = [*dims]
    left = full[[*key, "people"]].fillna("-").sort_values(key).reset_index(drop=True)
    right = heads[[*key, "people"]].fillna("-").sort_values(key).reset_index(drop=True)
    assert len(left) > 3
    assert left.astype(str).equals(right.astype(str))


def test_the_pack_refuses_a_quarter_in_progress_and_takes_no_k(cast: Cast, clock, tmp_path) -> None:
    from django.core.management.base import CommandError

    clock.set(datetime(2027, 2, 14, 12, tzinfo=UTC))
    with pytest.raises(CommandError, match="ended quarter"):
        call_command("stats_pack", "--quarter", "2027Q1", "--out", str(tmp_path))
    with pytest.raises(CommandError):
        call_command("stats_pack", "--quarter", "2026Q4", "--out", str(tmp_path), "--k", "5")
    assert not list(tmp_path.iterdir())
    call_command("stats_pack", "--quarter", "2026q4", "--out", str(tmp_path))
    assert {p.name for p in tmp_path.glob("*exposure*.csv")} == {
        "welfare-stats-exposure-by-unit-month-2026-10-01-to-2026-12-31-k10.csv"
    }
