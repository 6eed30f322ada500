"""Passkeys for tests that need one on file without a browser: a credential row as the
library stores it (its key never signs anything here)."""

from __future__ import annotations

import secrets

from django_otp_webauthn.models import WebAuthnCredential

from welfare.accounts.models import User


def passkey_for(user: User, *, name: str = "Test key") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        credential_id=secrets.token_bytes(32),
        public_key=secrets.token_bytes(77),
        aaguid="00000000-0000-0000-0000-000000000000",
        sign_count=0,
        confirmed=True,
    )
