"""Clinical text sealed with AES-256-GCM, bound to its table, column and row."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.test import override_settings

from welfare.core import crypto

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
NOTE_17 = crypto.aad("checkins_checkin", "referral_note_encrypted", 17)
NOTE_18 = crypto.aad("checkins_checkin", "referral_note_encrypted", 18)


@override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY])
def test_sealed_text_reads_back_in_its_own_row() -> None:
    token = crypto.seal("Struggling since the March case.", bound_to=NOTE_17)
    assert b"March" not in token
    assert crypto.unseal(token, bound_to=NOTE_17) == "Struggling since the March case."


@override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY])
def test_token_moved_to_another_row_is_unreadable() -> None:
    token = crypto.seal("Officer A's message", bound_to=NOTE_17)
    assert crypto.unseal(token, bound_to=NOTE_18) == crypto.UNREADABLE


@override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY])
def test_token_moved_to_another_column_is_unreadable() -> None:
    token = crypto.seal("Officer A's message", bound_to=NOTE_17)
    other_column = crypto.aad("checkins_checkin", "adjustments_encrypted", 17)
    assert crypto.unseal(token, bound_to=other_column) == crypto.UNREADABLE


@override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY])
def test_tampered_token_is_unreadable() -> None:
    token = bytearray(crypto.seal("text", bound_to=NOTE_17))
    token[-1] ^= 1
    assert crypto.unseal(bytes(token), bound_to=NOTE_17) == crypto.UNREADABLE


def test_legacy_fernet_token_still_reads() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        legacy = crypto.encrypt("an old case note")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert crypto.unseal(legacy, bound_to=NOTE_17) == "an old case note"


def test_rotation_reseals_with_the_new_key_and_the_old_key_can_go() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old = crypto.seal("note", bound_to=NOTE_17)
        legacy = crypto.encrypt("legacy note")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert not crypto.is_current(old)
        rotated = crypto.reseal(old, bound_to=NOTE_17)
        rotated_legacy = crypto.reseal(legacy, bound_to=NOTE_17)
        assert rotated is not None
        assert rotated_legacy is not None
        assert crypto.is_current(rotated)
        assert crypto.is_current(rotated_legacy)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.unseal(rotated, bound_to=NOTE_17) == "note"
        assert crypto.unseal(rotated_legacy, bound_to=NOTE_17) == "legacy note"
        assert crypto.unseal(old, bound_to=NOTE_17) == crypto.UNREADABLE
        assert crypto.unseal(legacy, bound_to=NOTE_17) == crypto.UNREADABLE


def test_unreadable_token_is_not_resealed_into_the_marker() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old = crypto.seal("note", bound_to=NOTE_17)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.reseal(old, bound_to=NOTE_17) is None
