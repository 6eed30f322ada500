"""Bulk import of units, people and postings: preview, then apply exactly what was previewed."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date

import pytest
from django.db import connection
from openpyxl import Workbook

from tests.conftest import Cast, client_for, owner_session, run_together
from welfare.accounts.models import User
from welfare.accounts.services import user_update
from welfare.audit.models import AuditEvent
from welfare.people import import_files
from welfare.people import import_rules as r
from welfare.people.api import XLSX_MEDIA_TYPE
from welfare.people.models import Officer, Posting, Unit
from welfare.people.services import IMPORT_FILE_CHANGED, IMPORT_PLAN_CHANGED

PREVIEW = "/api/v1/imports/preview"
APPLY = "/api/v1/imports/apply"
HEADER = list(r.COLUMNS)

GOOD = [
    {"kind": "unit", "unit": "Unit C", "unit_kind": "online_cse"},
    {"kind": "unit", "unit": "unit b", "unit_kind": "other"},
    {
        "kind": "person",
        "directory_id": "dir-0100",
        "username": "new.officer",
        "email": "new.officer@example.org",
        "display_name": "Test New Officer",
        "staff_number": "T0100",
        "role": "officer",
    },
    {"kind": "person", "username": "sup.c", "email": "sup.c@example.org", "role": "supervisor"},
    {"kind": "person", "username": "off.a2", "email": "a2@example.org", "role": "officer"},
    {"kind": "person", "username": "off.a1", "staff_number": "T0001", "role": "officer"},
    {"kind": "posting", "staff_number": "T0100", "unit": "Unit C", "started_on": "2027-01-01"},
    {"kind": "posting", "staff_number": "T0003", "unit": "Unit C", "started_on": "2027-04-01"},
    {
        "kind": "posting",
        "staff_number": "T0002",
        "unit": "Unit A",
        "started_on": "2026-01-15",
        "ended_on": "2027-02-28",
    },
]


def as_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row.get(column) or None for column in HEADER])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(user: User, url: str, content: bytes, **fields: str):
    return client_for(user).post(url, {"file": io.BytesIO(content), **fields}, format="multipart")


def preview(user: User, content: bytes):
    return upload(user, PREVIEW, content)


def apply(user: User, content: bytes, report: dict | None = None):
    report = report or preview(user, content).json()
    return upload(user, APPLY, content, sha256=report["sha256"], plan_sha256=report["plan_sha256"])


def stored() -> tuple[int, ...]:
    return (
        Unit.objects.count(),
        User.objects.count(),
        Officer.objects.count(),
        Posting.objects.count(),
        AuditEvent.objects.count(),
        sum(len(u.email) for u in User.objects.all()),
        sum(1 for p in Posting.objects.all() if p.ended_on),
    )


def test_preview_reports_each_row_and_changes_nothing(cast: Cast) -> None:
    before = stored()
    response = preview(cast.admin, as_csv(GOOD))
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(row["row"], row["outcome"]) for row in body["rows"]] == [
        (2, "created"),
        (3, "changed"),
        (4, "created"),
        (5, "created"),
        (6, "changed"),
        (7, "unchanged"),
        (8, "created"),
        (9, "created"),
        (10, "changed"),
    ]
    rows = {row["row"]: row for row in body["rows"]}
    assert rows[3]["changes"] == ["unit_kind"]
    assert rows[6]["changes"] == ["email"]
    assert rows[9]["notes"] == [
        r.ENDS_OPEN_POSTING.format(started_on="2024-09-01", unit="Unit B", ended_on="2027-03-31")
    ]
    assert rows[10]["changes"] == ["ended_on"]
    assert body["counts"] == {"created": 5, "changed": 3, "unchanged": 1, "rejected": 0}
    assert body["can_apply"] is True
    assert body["applied"] is False
    assert body["format"] == "csv"
    assert body["sha256"] == hashlib.sha256(as_csv(GOOD)).hexdigest()
    assert stored() == before


def test_apply_then_apply_again_changes_nothing_the_second_time(cast: Cast) -> None:
    content = as_csv(GOOD)
    response = apply(cast.admin, content)
    assert response.status_code == 200, response.content
    assert response.json()["applied"] is True
    unit_c = Unit.objects.get(name="Unit C")
    new = User.objects.get(username="new.officer")
    assert (new.role, new.email, new.directory_id, new.is_active) == (
        "officer",
        "new.officer@example.org",
        "dir-0100",
        True,
    )
    assert not new.has_usable_password()
    assert not User.objects.get(username="sup.c").has_usable_password()
    assert new.officer.staff_number == "T0100"
    assert [(p.unit_id, p.started_on, p.ended_on) for p in new.officer.postings.all()] == [
        (unit_c.pk, date(2027, 1, 1), None)
    ]
    assert [(p.unit.name, p.started_on, p.ended_on) for p in cast.officer_b1.postings.all()] == [
        ("Unit C", date(2027, 4, 1), None),
        ("Unit B", date(2024, 9, 1), date(2027, 3, 31)),
    ]
    assert cast.officer_a2.postings.get().ended_on == date(2027, 2, 28)
    assert User.objects.get(username="off.a2").email == "a2@example.org"
    assert Unit.objects.get(name="Unit B").kind == "other"
    event = AuditEvent.objects.get(action="people.imported")
    assert event.actor_id == cast.admin.pk
    assert event.detail == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "format": "csv",
        "rows": 9,
        "created": 5,
        "changed": 3,
        "unchanged": 1,
    }
    # The usual events of each service, in the same transaction.
    assert AuditEvent.objects.filter(action="user.created").count() == 2
    assert AuditEvent.objects.filter(action="posting.started").count() >= 2

    after_first = stored()
    again = apply(cast.admin, content)
    assert again.status_code == 200, again.content
    assert {row["outcome"] for row in again.json()["rows"]} == {"unchanged"}
    assert again.json()["counts"]["unchanged"] == 9
    assert stored() == after_first


def test_xlsx_reads_as_the_csv_does(cast: Cast) -> None:
    from_csv = preview(cast.admin, as_csv(GOOD)).json()
    workbook = as_xlsx(GOOD)  # once: a workbook records when it was written (its digest)
    from_xlsx = preview(cast.admin, workbook).json()
    assert from_xlsx["format"] == "xlsx"
    assert from_xlsx["rows"] == from_csv["rows"]
    assert from_xlsx["plan_sha256"] == from_csv["plan_sha256"]
    response = apply(cast.admin, workbook, from_xlsx)
    assert response.status_code == 200, response.content
    assert User.objects.filter(username="new.officer").exists()


def test_raw_csv_body_with_the_digests_as_query_parameters(cast: Cast) -> None:
    content = as_csv(GOOD)
    client = client_for(cast.admin)
    report = client.generic("POST", PREVIEW, content, content_type="text/csv").json()
    url = f"{APPLY}?sha256={report['sha256']}&plan_sha256={report['plan_sha256']}"
    response = client.generic("POST", url, content, content_type="text/csv")
    assert response.status_code == 200, response.content
    assert Unit.objects.filter(name="Unit C").exists()


def test_raw_xlsx_body(cast: Cast) -> None:
    client = client_for(cast.admin)
    response = client.generic("POST", PREVIEW, as_xlsx(GOOD), content_type=XLSX_MEDIA_TYPE)
    assert response.status_code == 200, response.content
    assert response.json()["counts"]["created"] == 5


BAD = [
    {"kind": "posting", "staff_number": "T0001", "unit": "Unit A", "started_on": "2027-02-30"},
    {"kind": "posting", "staff_number": "T0001", "unit": "Unit Z", "started_on": "2027-05-01"},
    {"kind": "posting", "staff_number": "T0002", "unit": "Unit B", "started_on": "2026-01-15"},
    {"kind": "person", "username": "dup.one", "role": "hr"},
    {"kind": "person", "username": "Dup.One", "role": "hr"},
    {"kind": "person", "username": "new.nurse", "role": "oh"},
    {"kind": "unit", "unit": "Unit D", "unit_kind": "other"},
]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_rejected_rows_refuse_the_apply_with_each_rows_reasons(
    cast: Cast, file_format: str
) -> None:
    content = as_csv(BAD) if file_format == "csv" else as_xlsx(BAD)
    report = preview(cast.admin, content).json()
    assert report["can_apply"] is False
    before = stored()
    response = apply(cast.admin, content, report)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "import_rejected"
    errors = {row["row"]: row["errors"] for row in body["rows"] if row["outcome"] == "rejected"}
    assert errors == {
        2: {"started_on": [r.BAD_DATE]},
        3: {"unit": [r.UNKNOWN_UNIT]},
        4: {
            "started_on": [
                r.POSTING_OVERLAP.format(started_on="2026-01-15", unit="Unit A", until="")
            ]
        },
        6: {"username": [r.DUPLICATE_USERNAME.format(row=5)]},
        7: {"role": [r.ROLE_OH_REFUSED]},
    }
    assert body["counts"] == {"created": 2, "changed": 0, "unchanged": 0, "rejected": 5}
    assert stored() == before
    assert not Unit.objects.filter(name="Unit D").exists()


def test_apply_refuses_another_file_than_the_one_previewed(cast: Cast) -> None:
    report = preview(cast.admin, as_csv(GOOD)).json()
    before = stored()
    response = apply(cast.admin, as_csv(GOOD[:-1]), report)
    assert response.status_code == 409
    assert response.json() == {"detail": IMPORT_FILE_CHANGED, "code": "file_changed"}
    assert stored() == before


def test_apply_refuses_when_the_service_changed_since_the_preview(cast: Cast) -> None:
    content = as_csv(GOOD)
    report = preview(cast.admin, content).json()
    user_update(actor=cast.admin, user=cast.officer_a2.user, changes={"email": "a2@example.org"})
    before = stored()
    response = apply(cast.admin, content, report)
    assert response.status_code == 409
    assert response.json() == {"detail": IMPORT_PLAN_CHANGED, "code": "plan_changed"}
    assert stored() == before


def test_a_row_the_database_refuses_half_way_rolls_everything_back(cast: Cast) -> None:
    """Units and people are written before postings: a posting the database refuses (as a
    full disk or a broken constraint would) leaves none of them."""
    content = as_csv(GOOD)
    report = preview(cast.admin, content).json()
    before = stored()
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_posting() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; "
            "END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_posting BEFORE INSERT ON people_posting "
            "FOR EACH ROW WHEN (NEW.started_on = '2027-04-01') "
            "EXECUTE FUNCTION test_refuse_posting()"
        )
    response = apply(cast.admin, content, report)
    assert response.status_code == 400, response.content
    assert stored() == before
    assert not User.objects.filter(username="new.officer").exists()
    assert not Unit.objects.filter(name="Unit C").exists()
    assert not AuditEvent.objects.filter(action="people.imported").exists()


@pytest.mark.parametrize("who", ["officer", "supervisor", "oh", "hr"])
def test_only_admins_import(cast: Cast, who: str) -> None:
    content = as_csv(GOOD)
    assert preview(cast.user(who), content).status_code == 403
    assert (
        upload(cast.user(who), APPLY, content, sha256="0" * 64, plan_sha256="0" * 64).status_code
        == 403
    )


def test_an_admin_without_a_verified_code_cannot_import(cast: Cast) -> None:
    client = client_for(cast.admin, verified=False)
    response = client.post(PREVIEW, {"file": io.BytesIO(as_csv(GOOD))}, format="multipart")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"


def test_size_and_row_caps(cast: Cast, settings) -> None:
    settings.PEOPLE_IMPORT_MAX_BYTES = 2048
    big = as_csv([{"kind": "unit", "unit": f"Unit {n}", "unit_kind": "other"} for n in range(200)])
    assert len(big) > 2048
    assert preview(cast.admin, big).status_code == 413
    raw = client_for(cast.admin).generic("POST", PREVIEW, big, content_type="text/csv")
    assert raw.status_code == 413
    settings.PEOPLE_IMPORT_MAX_BYTES = 1024 * 1024
    settings.PEOPLE_IMPORT_MAX_ROWS = 3
    response = preview(cast.admin, as_csv(GOOD))
    assert response.status_code == 400
    assert response.json()["file"] == [import_files.TOO_MANY_ROWS.format(limit=3)]


def test_unreadable_files_answer_400_on_the_file(cast: Cast) -> None:
    cases = {
        b"kind,colour\nunit,red\n": import_files.UNKNOWN_COLUMNS.format(
            columns="colour", known=", ".join(r.COLUMNS)
        ),
        b"unit,unit_kind\nUnit C,other\n": import_files.KIND_COLUMN_MISSING,
        "kind,unit\nunit,Caf\u00e9\n".encode("latin-1"): import_files.NOT_UTF8,
        b"PK\x03\x04 not a zip": import_files.NOT_XLSX,
        b"kind,unit,unit_kind\n": import_files.NO_ROWS,
    }
    for content, message in cases.items():
        response = preview(cast.admin, content)
        assert response.status_code == 400, content
        assert response.json()["file"] == [message]


def test_a_workbook_that_unpacks_to_far_more_than_its_size_is_refused(cast: Cast) -> None:
    import zipfile

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"0" * (8 * 1024 * 1024))
    content = packed.getvalue()
    response = preview(cast.admin, content)
    assert response.status_code == 400
    limit = len(content) * import_files.XLSX_MAX_EXPANSION
    assert response.json()["file"] == [import_files.XLSX_TOO_BIG.format(limit=limit)]


def test_formula_like_cells_are_kept_as_text(cast: Cast) -> None:
    rows = [
        {
            "kind": "person",
            "username": "new.formula",
            "display_name": '=HYPERLINK("http://example.org","x")',
            "staff_number": "T0500",
            "role": "officer",
        },
        {"kind": "unit", "unit": "+Unit", "unit_kind": "other"},
    ]
    response = apply(cast.admin, as_csv(rows))
    assert response.status_code == 200, response.content
    assert Officer.objects.get(staff_number="T0500").display_name.startswith("=HYPERLINK")
    assert Unit.objects.filter(name="+Unit").exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_file_applied_twice_at_once_is_imported_once(cast: Cast) -> None:
    content = as_csv(GOOD)
    report = preview(cast.admin, content).json()
    results = run_together(
        lambda: apply(cast.admin, content, report).status_code,
        lambda: apply(cast.admin, content, report).status_code,
    )
    assert sorted(results) == [200, 409], results
    assert User.objects.filter(username="new.officer").count() == 1
    assert Unit.objects.filter(name="Unit C").count() == 1
    assert AuditEvent.objects.filter(action="people.imported").count() == 1


def test_the_readme_example_previews_as_documented(cast: Cast) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Bulk import (CSV/XLSX)") :]
    example = section[
        section.index("```csv\n") + 7 : section.index("```\n", section.index("```csv"))
    ]
    body = preview(cast.admin, example.encode()).json()
    assert body["counts"] == {"created": 4, "changed": 2, "unchanged": 0, "rejected": 0}
    changed = {row["key"]: row["changes"] for row in body["rows"] if row["outcome"] == "changed"}
    assert changed == {"off.b1 / T0003": ["active"], "T0002 / Unit A / 2026-01-15": ["ended_on"]}


def test_directory_ids_stay_unique_through_the_account_services(cast: Cast) -> None:
    from welfare.accounts.services import DIRECTORY_ID_TAKEN, user_create
    from welfare.core.errors import DomainError

    made = user_create(
        actor=cast.admin, username="dir.one", role="hr", no_password=True, directory_id="dir-1"
    )
    assert not made.has_usable_password()
    with pytest.raises(DomainError) as taken:
        user_create(
            actor=cast.admin, username="dir.two", role="hr", no_password=True, directory_id="dir-1"
        )
    assert taken.value.message == DIRECTORY_ID_TAKEN
    with pytest.raises(DomainError) as again:
        user_update(actor=cast.admin, user=cast.hr, changes={"directory_id": "dir-1"})
    assert again.value.message == DIRECTORY_ID_TAKEN
    user_update(actor=cast.admin, user=cast.hr, changes={"directory_id": "dir-2"})
    cast.hr.refresh_from_db()
    assert cast.hr.directory_id == "dir-2"
    assert AuditEvent.objects.filter(
        action="user.updated", target_id=str(cast.hr.pk), detail__changed=["directory_id"]
    ).exists()
