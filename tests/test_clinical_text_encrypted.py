"""Clinical text and secrets are sealed in their row (AES-256-GCM bound to table, column and
row id): no plaintext in the database or its backups, a token moved to another row or column
does not read, key rotation reseals everything, and the API and web pages still show the
text to those allowed to read it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.db import connection, models
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import Cast, client_for, owner_session, web_client_for
from welfare.accounts.models import SEALED_SEED_PREFIX, SealedTOTPDevice, UnreadableSeed
from welfare.accounts.services import otp_device_new
from welfare.alerts.models import UnitWebhook
from welfare.alerts.services import webhook_create
from welfare.audit.models import AuditEvent
from welfare.casework.models import CaseNote, ManagementReport
from welfare.casework.services import (
    note_body,
    note_write,
    report_draft,
    rotate_encryption,
    screening_comment,
    screening_submit,
)
from welfare.checkins.models import CheckIn, Screening
from welfare.checkins.services import checkin_cancel, checkin_complete, checkin_trigger, self_refer
from welfare.core import crypto
from welfare.core.clock import now as service_now
from welfare.exposure.models import Restriction
from welfare.exposure.services import restriction_create

PHQ9_OK = [0, 1, 0, 1, 0, 0, 1, 0, 0]


@dataclass(frozen=True)
class Field:
    """One sealed field: its model, column, and how the service reads its plaintext."""

    model: type[models.Model]
    column: str
    read: Callable[[Any], str]

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


FIELDS = [
    Field(CheckIn, "referral_note_encrypted", lambda c: c.referral_note),
    Field(CheckIn, "adjustments_encrypted", lambda c: c.adjustments),
    Field(Restriction, "reason_encrypted", lambda r: r.reason),
    Field(ManagementReport, "adjustments_encrypted", lambda r: r.adjustments),
    Field(UnitWebhook, "secret_encrypted", lambda w: w.secret),
    Field(CaseNote, "body_encrypted", note_body),
    Field(Screening, "comment_encrypted", screening_comment),
    Field(CheckIn, "cancel_reason_encrypted", lambda c: c.cancel_reason),
]


@dataclass
class Sealed:
    rows: dict[str, list[int]]  # str(field) -> the two rows' ids
    texts: dict[str, list[str]]  # str(field) -> their plaintexts
    devices: list[SealedTOTPDevice]
    seeds: list[str]


@pytest.fixture
def sealed(cast: Cast, clock) -> Sealed:
    """Two rows of every sealed field, written through the services."""
    rows: dict[str, list[int]] = {}
    texts: dict[str, list[str]] = {}

    def add(field: Field, pk: int, text: str) -> None:
        rows.setdefault(str(field), []).append(pk)
        texts.setdefault(str(field), []).append(text)

    for n, officer in enumerate((cast.officer_a1, cast.officer_a2), start=1):
        referral = self_refer(user=officer.user, note=f"REFERRAL-MARKER-{n}")
        checkin_complete(
            actor=cast.oh1,
            checkin=referral,
            outcome="fit_with_adjustments",
            adjustments=f"ADJUSTMENT-MARKER-{n}",
        )
        add(FIELDS[0], referral.pk, f"REFERRAL-MARKER-{n}")
        add(FIELDS[1], referral.pk, f"ADJUSTMENT-MARKER-{n}")
        restriction = restriction_create(
            actor=cast.oh1,
            officer=officer,
            starts_on=date(2027, 3, 1),
            daily_minutes=60,
            reason=f"REASON-MARKER-{n}",
        )
        add(FIELDS[2], restriction.pk, f"REASON-MARKER-{n}")
        report = report_draft(
            actor=cast.oh1, officer=officer, fitness="fit", adjustments=f"REPORT-MARKER-{n}"
        )
        add(FIELDS[3], report.pk, f"REPORT-MARKER-{n}")
        note = note_write(actor=cast.oh1, officer=officer, body=f"NOTE-MARKER-{n}")
        add(FIELDS[5], note.pk, f"NOTE-MARKER-{n}")
        checkin = checkin_trigger(officer_id=officer.pk, due_on=date(2027, 3, 17), key=f"t{n}")
        assert checkin is not None
        screening = screening_submit(
            actor=cast.oh1,
            checkin=checkin,
            instrument_key="phq9",
            answers=PHQ9_OK,
            comment=f"COMMENT-MARKER-{n}",
        )
        add(FIELDS[6], screening.pk, f"COMMENT-MARKER-{n}")
        checkin_cancel(actor=cast.oh1, checkin=checkin, reason=f"CANCEL-MARKER-{n}")
        add(FIELDS[7], checkin.pk, f"CANCEL-MARKER-{n}")
    for unit in (cast.unit_a, cast.unit_b):
        webhook = webhook_create(actor=cast.admin, unit=unit, url="https://chat.example/hook")
        add(FIELDS[4], webhook.pk, webhook.secret)
    devices = [
        otp_device_new(user=user, name="phone", confirmed=True) for user in (cast.oh1, cast.oh2)
    ]
    return Sealed(rows, texts, devices, [d.seed for d in devices])


def raw(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def reread(field: Field, pk: int) -> str:
    return field.read(field.model._default_manager.get(pk=pk))


def code(device: SealedTOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = service_now().timestamp()  # the service's clock
    return f"{totp.token():06d}"


# --- No plaintext at rest ---------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS, ids=str)
def test_the_database_holds_no_plaintext(sealed: Sealed, field: Field) -> None:
    for pk, text in zip(sealed.rows[str(field)], sealed.texts[str(field)], strict=True):
        assert reread(field, pk) == text  # the service reads it back
        # The whole row as the database (and a backup) holds it: the text is nowhere.
        (whole,) = raw(f'SELECT t::text FROM "{field.table}" t WHERE id = %s', [pk])[0]
        assert text not in whole
        (token,) = raw(f'SELECT "{field.column}" FROM "{field.table}" WHERE id = %s', [pk])[0]
        assert bytes(token)[:1] == b"\x02"  # AES-GCM, bound to the row
        assert text.encode() not in bytes(token)


def test_totp_seed_column_is_not_the_clear_hex_key(sealed: Sealed) -> None:
    for device, seed in zip(sealed.devices, sealed.seeds, strict=True):
        (key,) = raw("SELECT key FROM otp_totp_totpdevice WHERE id = %s", [device.pk])[0]
        assert key.startswith(SEALED_SEED_PREFIX)
        assert seed not in key
        assert base64.b32encode(bytes.fromhex(seed)).decode() not in key
        assert len(key) <= TOTPDevice._meta.get_field("key").max_length
        assert SealedTOTPDevice.objects.get(pk=device.pk).verify_token(code(device))


# --- A token moved to another row or column does not read -----------------------------------


@pytest.mark.parametrize("field", FIELDS, ids=str)
def test_swapped_ciphertext_reads_as_unreadable_never_the_other_rows_text(
    sealed: Sealed, field: Field
) -> None:
    first, second = sealed.rows[str(field)]
    swap = (
        f'UPDATE "{field.table}" t SET "{field.column}" = o."{field.column}" '
        f'FROM "{field.table}" o WHERE (t.id, o.id) IN ((%s, %s), (%s, %s))'
    )
    with owner_session():  # the application's role may not rewrite clinical text at all
        raw_update(swap, [first, second, second, first])
    for pk in (first, second):
        text = reread(field, pk)
        assert text == crypto.UNREADABLE
        assert text not in sealed.texts[str(field)]


def raw_update(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == 2


def test_a_token_moved_to_another_column_of_the_same_row_does_not_read(sealed: Sealed) -> None:
    pk = sealed.rows["checkins_checkin.referral_note_encrypted"][0]
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE checkins_checkin SET adjustments_encrypted = referral_note_encrypted "
            "WHERE id = %s",
            [pk],
        )
    checkin = CheckIn.objects.get(pk=pk)
    assert checkin.adjustments == crypto.UNREADABLE
    assert checkin.referral_note == "REFERRAL-MARKER-1"


def test_a_swapped_totp_seed_verifies_nothing(sealed: Sealed) -> None:
    first, second = sealed.devices
    with connection.cursor() as cursor:  # a working table: even the application may write it
        cursor.execute(
            "UPDATE otp_totp_totpdevice t SET key = o.key FROM otp_totp_totpdevice o "
            "WHERE (t.id, o.id) IN ((%s, %s), (%s, %s))",
            [first.pk, second.pk, second.pk, first.pk],
        )
    for device in (first, second):
        moved = SealedTOTPDevice.objects.get(pk=device.pk)
        with pytest.raises(UnreadableSeed):
            moved.bin_key  # noqa: B018
        assert moved.verify_token(code(first)) is False
        assert moved.verify_token(code(second)) is False


def test_a_clear_seed_written_behind_the_services_back_verifies_nothing(cast: Cast) -> None:
    device = otp_device_new(user=cast.oh1, name="phone", confirmed=True)
    planted = "00" * 20
    SealedTOTPDevice.objects.filter(pk=device.pk).update(key=planted)
    totp = TOTP(bytes.fromhex(planted), 30, 0, 6, 0)
    totp.time = service_now().timestamp()  # the service's clock
    assert SealedTOTPDevice.objects.get(pk=device.pk).verify_token(f"{totp.token():06d}") is False


# --- Key rotation --------------------------------------------------------------------------------


def test_rotation_reseals_every_field_and_the_old_key_can_go(sealed: Sealed, settings) -> None:
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]), owner_session():
        rotation = rotate_encryption(batch=1)  # one row per batch: the batching is exercised
    done = {table: r.rows for table, r in rotation.tables.items()}
    assert done == {
        "checkins_checkin": 4,  # two self-referrals, two cancelled check-ins
        "checkins_screening": 2,
        "exposure_restriction": 2,
        "casework_managementreport": 2,
        "casework_casenote": 2,
        "alerts_unitwebhook": 2,
        "otp_totp_totpdevice": 2,
    }
    assert rotation.unreadable == 0
    event = AuditEvent.objects.filter(action="encryption.rotated").latest("id")
    assert (event.detail["exposure_restriction"], event.detail["otp_totp_totpdevice"]) == (2, 2)
    assert event.detail["exposure_restriction_unreadable"] == 0
    assert event.detail["records"] == rotation.total
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):  # the old key is gone
        for field in FIELDS:
            for pk, text in zip(sealed.rows[str(field)], sealed.texts[str(field)], strict=True):
                assert reread(field, pk) == text, field
                (token,) = raw(
                    f'SELECT "{field.column}" FROM "{field.table}" WHERE id = %s',
                    [pk],
                )[0]
                assert crypto.is_current(token)
        for device, seed in zip(sealed.devices, sealed.seeds, strict=True):
            fresh = SealedTOTPDevice.objects.get(pk=device.pk)
            assert fresh.seed == seed
            assert fresh.verify_token(code(fresh))
        # Run again: nothing left to do.
        with owner_session():
            assert rotate_encryption().total == 0
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]):
        assert reread(FIELDS[0], sealed.rows[str(FIELDS[0])][0]) == crypto.UNREADABLE


def test_rotation_binds_a_legacy_fernet_note_and_leaves_a_moved_token_alone(
    cast: Cast, settings
) -> None:
    legacy = note_write(actor=cast.oh1, officer=cast.officer_a1, body="LEGACY-MARKER")
    other = note_write(actor=cast.oh1, officer=cast.officer_a2, body="OTHER-MARKER")
    moved = note_write(actor=cast.oh1, officer=cast.officer_a2, body="MOVED-MARKER")
    with owner_session(), connection.cursor() as cursor:
        cursor.execute(  # written before sealing: Fernet, bound to nothing
            "UPDATE casework_casenote SET body_encrypted = %s WHERE id = %s",
            [crypto.encrypt("LEGACY-MARKER"), legacy.pk],
        )
        cursor.execute(  # another row's token copied over this one
            "UPDATE casework_casenote SET body_encrypted = "
            "(SELECT body_encrypted FROM casework_casenote WHERE id = %s) WHERE id = %s",
            [other.pk, moved.pk],
        )
    assert note_body(CaseNote.objects.get(pk=legacy.pk)) == "LEGACY-MARKER"  # still reads
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *settings.FIELD_ENCRYPTION_KEYS]):
        with owner_session():
            notes = rotate_encryption().tables["casework_casenote"]
        assert (notes.rows, notes.unreadable) == (2, 1)  # legacy and other; moved left alone
        token = CaseNote.objects.get(pk=legacy.pk).body_encrypted
        assert bytes(token)[:1] == b"\x02"  # now AES-GCM, bound to its row
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert note_body(CaseNote.objects.get(pk=legacy.pk)) == "LEGACY-MARKER"
        assert note_body(CaseNote.objects.get(pk=other.pk)) == "OTHER-MARKER"
        assert note_body(CaseNote.objects.get(pk=moved.pk)) == crypto.UNREADABLE


def test_the_totp_migration_seals_clear_seeds(cast: Cast) -> None:
    from importlib import import_module

    migration = import_module("welfare.accounts.migrations.0005_sealed_totp_seed")
    clear = TOTPDevice.objects.create(user=cast.oh1, name="old phone", confirmed=True)
    seed = clear.key
    migration.seal_seeds(django_apps, None)
    device = SealedTOTPDevice.objects.get(pk=clear.pk)
    assert device.key.startswith(SEALED_SEED_PREFIX)
    assert device.seed == seed
    assert device.verify_token(code(device))
    migration.unseal_seeds(django_apps, None)
    assert TOTPDevice.objects.get(pk=clear.pk).key == seed


# --- Those allowed still read the text ---------------------------------------------------------


def test_api_and_web_show_the_text_to_those_allowed(cast: Cast, sealed: Sealed) -> None:
    oh, supervisor = client_for(cast.oh1), client_for(cast.supervisor_a)
    referral = sealed.rows["checkins_checkin.referral_note_encrypted"][0]
    row = oh.get(f"/api/v1/checkins/{referral}/").json()
    assert (row["referral_note"], row["adjustments"]) == (
        "REFERRAL-MARKER-1",
        "ADJUSTMENT-MARKER-1",
    )
    restriction = sealed.rows["exposure_restriction.reason_encrypted"][0]
    assert oh.get(f"/api/v1/restrictions/{restriction}/").json()["reason"] == "REASON-MARKER-1"
    assert supervisor.get(f"/api/v1/restrictions/{restriction}/").json().get("reason") is None
    report = sealed.rows["casework_managementreport.adjustments_encrypted"][0]
    assert oh.get(f"/api/v1/reports/{report}/").json()["adjustments"] == "REPORT-MARKER-1"
    page = web_client_for(cast.oh1).get(f"/oh/cases/{cast.officer_a1.pk}").content.decode()
    for marker in ("REFERRAL-MARKER-1", "ADJUSTMENT-MARKER-1", "NOTE-MARKER-1"):
        assert marker in page
    assert "REFERRAL-MARKER" not in web_client_for(cast.supervisor_a).get("/").content.decode()
