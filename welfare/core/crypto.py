"""Authenticated encryption at rest for clinical text and secrets (version 2: AES-256-GCM bound
to table, column and row; legacy: Fernet, AES-128-CBC with HMAC-SHA256, still readable).

Keys come from FIELD_ENCRYPTION_KEYS, newest first; every listed key can decrypt, only the
first encrypts, so keys rotate by adding a new one in front and running
`manage.py rotate_encryption_keys`, which re-encrypts everything with it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

UNREADABLE = "[unreadable: encrypted with a key that is no longer configured]"


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> bytes:
    return cipher().encrypt(text.encode())


def decrypt(token: bytes | memoryview) -> str:
    try:
        return cipher().decrypt(bytes(token)).decode()
    except InvalidToken:
        return UNREADABLE


def rotate(token: bytes | memoryview) -> bytes:
    """The same plaintext, encrypted with the current (first) key."""
    return cipher().rotate(bytes(token))


# --- Version 2: AES-256-GCM bound to the row ------------------------------------------------
# Token: b"\x02" + key id (4 bytes) + nonce (12 bytes) + ciphertext and tag. The associated
# data is "table:column:row_id", so a token copied into another row or column fails its tag
# and reads as UNREADABLE, never as the other row's text. The AES keys are derived (HKDF) from
# the same FIELD_ENCRYPTION_KEYS, so a deployment needs no new setting.

_V2 = b"\x02"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12


@dataclass(frozen=True)
class _AeadKey:
    key_id: bytes
    aead: AESGCM


def _key_material(key: str) -> bytes:
    raw = base64.urlsafe_b64decode(key.encode())
    if len(raw) != 32:
        raise ValueError("FIELD_ENCRYPTION_KEYS entries must be 32 bytes, url-safe base64.")
    return raw


@lru_cache(maxsize=4)
def _aead_keys(keys: tuple[str, ...]) -> tuple[_AeadKey, ...]:
    derived = []
    for key in keys:
        aes = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"welfare field aead v2"
        ).derive(_key_material(key))
        key_id = hashlib.sha256(b"welfare key id" + aes).digest()[:_KEY_ID_BYTES]
        derived.append(_AeadKey(key_id, AESGCM(aes)))
    return tuple(derived)


def aad(table: str, column: str, row_id: int | str) -> bytes:
    """What a token is bound to: one column of one row."""
    return f"{table}:{column}:{row_id}".encode()


def seal(text: str, *, bound_to: bytes) -> bytes:
    """Encrypt with the current (first) key, bound to `aad(...)`."""
    return seal_bytes(text.encode(), bound_to=bound_to)


def seal_bytes(data: bytes, *, bound_to: bytes) -> bytes:
    """`seal` for bytes (a TOTP seed: 20 bytes sealed in 53)."""
    current = _aead_keys(tuple(settings.FIELD_ENCRYPTION_KEYS))[0]
    nonce = os.urandom(_NONCE_BYTES)
    return _V2 + current.key_id + nonce + current.aead.encrypt(nonce, data, bound_to)


def is_current(token: bytes | memoryview) -> bool:
    """Whether the token is version 2 under the current key (rotation skips it)."""
    token = bytes(token)
    current = _aead_keys(tuple(settings.FIELD_ENCRYPTION_KEYS))[0]
    return token[:1] == _V2 and token[1 : 1 + _KEY_ID_BYTES] == current.key_id


def unseal(token: bytes | memoryview, *, bound_to: bytes) -> str:
    """The plaintext, or UNREADABLE when the key is gone, the token was altered or it belongs
    to another row or column. A legacy Fernet token (no binding) still reads until rotation
    re-seals it; once the key it used is removed it reads as UNREADABLE too."""
    token = bytes(token)
    if token[:1] != _V2:
        return decrypt(token)
    data = unseal_bytes(token, bound_to=bound_to)
    return UNREADABLE if data is None else data.decode()


def unseal_bytes(token: bytes | memoryview, *, bound_to: bytes) -> bytes | None:
    """What `seal_bytes` sealed, or None when it cannot be read (version 2 tokens only)."""
    token = bytes(token)
    if token[:1] != _V2:
        return None
    key_id = token[1 : 1 + _KEY_ID_BYTES]
    nonce = token[1 + _KEY_ID_BYTES : 1 + _KEY_ID_BYTES + _NONCE_BYTES]
    body = token[1 + _KEY_ID_BYTES + _NONCE_BYTES :]
    for key in _aead_keys(tuple(settings.FIELD_ENCRYPTION_KEYS)):
        if key.key_id == key_id:
            try:
                return key.aead.decrypt(nonce, body, bound_to)
            except InvalidTag:
                return None
    return None


def reseal(token: bytes | memoryview, *, bound_to: bytes) -> bytes | None:
    """The same plaintext sealed with the current key, or None when it cannot be read (the
    row keeps its token: rotation must never replace text with the UNREADABLE marker)."""
    text = unseal(token, bound_to=bound_to)
    if text == UNREADABLE:
        return None
    return seal(text, bound_to=bound_to)


def reseal_bytes(token: bytes | memoryview, *, bound_to: bytes) -> bytes | None:
    """`reseal` for `seal_bytes` tokens."""
    data = unseal_bytes(token, bound_to=bound_to)
    return None if data is None else seal_bytes(data, bound_to=bound_to)
