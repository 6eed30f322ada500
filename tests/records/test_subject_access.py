"""A subject access request: everything held about one officer, in one file, audited."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import Cast
from welfare.audit.models import AuditEvent
from welfare.casework.services import note_write
from welfare.core import clock as clock_module
from welfare.exposure.services import exposure_log


def test_export_holds_the_whole_record_and_is_audited(cast: Cast, tmp_path: Path) -> None:
    officer = cast.officer_a1
    now = clock_module.now()
    exposure_log(
        officer=officer,
        recorded_by=officer.user,
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=1),
        material="video",
        category="B",
        client_ref=uuid.uuid4(),
    )
    note_write(actor=cast.oh1, officer=officer, body="Synthetic marker NOTE-7731")
    note_write(actor=cast.oh1, officer=cast.officer_a2, body="Someone else's NOTE-0000")
    out = tmp_path / "sar.json"

    call_command(
        "export_person",
        "--officer",
        str(officer.pk),
        "--out",
        str(out),
        "--reference",
        "SAR-2027-14",
    )

    data = json.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert data["officer"]["staff_number"] == "T0001"
    assert data["account"]["username"] == "off.a1"
    assert [s["material"] for s in data["exposure_sessions"]] == ["video"]
    assert [n["body"] for n in data["case_notes"]] == ["Synthetic marker NOTE-7731"]
    assert [posting["unit_name"] for posting in data["postings"]] == ["Unit A"]
    assert sum(day["seconds"] for day in data["daily_totals"]) == 3600
    assert "NOTE-0000" not in out.read_text()
    assert "body_encrypted" not in data["case_notes"][0]
    event = AuditEvent.objects.get(action="subject_access.exported")
    assert event.target_id == str(officer.pk)
    assert event.detail["case_notes"] == 1
    assert event.detail["reference"] == "SAR-2027-14"
    assert "NOTE-7731" not in json.dumps(event.detail)


def test_export_refuses_an_unknown_officer_and_an_existing_file(cast: Cast, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No officer"):
        call_command("export_person", "--officer", "999999", "--out", str(tmp_path / "x.json"))
    existing = tmp_path / "taken.json"
    existing.write_text("{}")
    with pytest.raises(CommandError, match="exists"):
        call_command("export_person", "--officer", str(cast.officer_a1.pk), "--out", str(existing))
    assert not AuditEvent.objects.filter(action="subject_access.exported").exists()
