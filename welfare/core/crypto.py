"""Authenticated encryption at rest for clinical text (Fernet: AES-128-CBC with HMAC-SHA256).

Keys come from FIELD_ENCRYPTION_KEYS, newest first; every listed key can decrypt, only the
first encrypts, so keys rotate by adding a new one in front and running
`manage.py rotate_encryption_keys`, which re-encrypts everything with it.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
