"""A real OpenID provider for the single sign-on tests, in its own process.

`oidc_provider` (one per test session, i.e. per xdist worker) makes an RSA key, migrates a
SQLite database in a temporary directory, creates the service's client (confidential, RS256,
PKCE required, consent asked) and the directory's synthetic people, starts the provider with
`runserver` on a free port, waits until its discovery document answers, and kills it at the
end. `sso_on` points the service's settings at it for one test.

Import both into a test module (they are registered by their fixture names):
`from tests.oidc_provider.fixtures import oidc_provider_fixture, sso_on_fixture`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from jwcrypto import jwk

from welfare.accounts import sso

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "welfare-test-client"
CLIENT_SECRET = "welfare-test-client-secret"
SCRIPTED_REDIRECT = "http://127.0.0.1:9/cb"  # the scripted flows read the code off the redirect
DIRECTORY_PASSWORD = "directory pass phrase 2027"

# The directory's synthetic people: user name -> (directory id, groups, mfa).
PEOPLE: dict[str, tuple[str, list[str], bool]] = {
    "dir.supervisor": ("oid-0001-supervisor", [], False),
    "dir.officer": ("oid-0002-officer", [], False),
    "dir.mfa": ("oid-0003-mfa", [], True),
    "dir.stranger": ("oid-0009-not-linked", [], False),
    "dir.hr": ("oid-0004-hr", ["grp-supervisors"], False),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Provider:
    issuer: str
    key: jwk.JWK
    service_callback: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def kid(self) -> str:
        return str(self.key.thumbprint())

    def private_pem(self) -> bytes:
        return bytes(self.key.export_to_pem(private_key=True, password=None))

    def mint(self, claims: dict[str, Any], *, key_pem: bytes | None = None) -> str:
        """An id_token signed with the provider's own key (or `key_pem`), with its kid."""
        return jwt.encode(
            claims, key_pem or self.private_pem(), algorithm="RS256", headers={"kid": self.kid}
        )

    def claims(self, sub: str, *, nonce: str, **more: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **more,
        }

    def code_flow(self, username: str, *, nonce: str, pkce: bool = True) -> requests.Response:
        """Sign in at the provider as a client would (log-in form, consent) and return the
        authorisation endpoint's last answer: a redirect carrying the code, or an error."""
        session = requests.Session()
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": SCRIPTED_REDIRECT,
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "nonce": nonce,
        }
        if pkce:
            digest = hashlib.sha256(verifier.encode()).digest()
            params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            params["code_challenge_method"] = "S256"
        self._verifier = verifier
        authorize = f"{self.issuer}/authorize/?{urlencode(params)}"
        login = _follow(session, session.get(authorize, timeout=10, allow_redirects=False))
        if _at_client(login):
            return login  # refused before anyone signs in
        form = _hidden_fields(login.text)
        form.update({"username": username, "password": DIRECTORY_PASSWORD})
        consent = _follow(
            session, session.post(login.url, data=form, timeout=10, allow_redirects=False)
        )
        if _at_client(consent) or "authorizationForm" not in consent.text:
            return consent
        answer = _hidden_fields(consent.text)
        answer["allow"] = "Authorize"
        return _follow(
            session, session.post(consent.url, data=answer, timeout=10, allow_redirects=False)
        )

    def id_token_for(self, username: str, *, nonce: str) -> str:
        """A real id_token from the provider: code flow with PKCE, then the token endpoint."""
        answer = self.code_flow(username, nonce=nonce)
        assert answer.status_code == 302, answer.text[:300]
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        tokens = requests.post(
            f"{self.issuer}/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": SCRIPTED_REDIRECT,
                "code_verifier": self._verifier,
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["id_token"])


def _at_client(response: requests.Response) -> bool:
    return response.headers.get("Location", "").startswith(SCRIPTED_REDIRECT)


def _follow(session: requests.Session, response: requests.Response) -> requests.Response:
    """Follow the provider's own redirects; stop at one back to the client."""
    while response.is_redirect and not _at_client(response):
        target = urljoin(response.url, response.headers["Location"])
        response = session.get(target, timeout=10, allow_redirects=False)
    return response


def _hidden_fields(html: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]*)"', tag)
        if name and (kind is None or kind.group(1) == "hidden"):
            fields[name.group(1)] = value.group(1).replace("&amp;", "&") if value else ""
    return fields


def _django(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="session", name="oidc_provider")
def oidc_provider_fixture(
    live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Provider]:
    home = tmp_path_factory.mktemp("oidc_provider")
    key = jwk.JWK.generate(kty="RSA", size=2048)
    key_file = home / "key.pem"
    key_file.write_bytes(key.export_to_pem(private_key=True, password=None))
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}/o"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.oidc_provider.settings",
        OP_DB=str(home / "provider.sqlite3"),
        OP_KEY_FILE=str(key_file),
        OP_ISSUER=issuer,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    callback = f"{live_server.url}/login/sso/callback"
    _django(env, "migrate", "-v", "0")
    spec = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"{callback} {SCRIPTED_REDIRECT}",
        "users": [
            {"username": name, "password": DIRECTORY_PASSWORD, "sub": sub, "groups": groups,
             "mfa": mfa}
            for name, (sub, groups, mfa) in PEOPLE.items()
        ],
    }  # fmt: skip
    _django(env, "provider_setup", stdin=json.dumps(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    provider = Provider(issuer=issuer, key=key, service_callback=callback, process=process)
    # Keep its output (a failing test shows it) and stop the pipe from filling up.
    reader = threading.Thread(
        target=lambda: provider.log.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        _wait_for_discovery(issuer, process, provider.log)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_discovery(issuer: str, process: subprocess.Popen[str], log: list[str]) -> None:
    """Until the provider's discovery document answers (the process is starting: a real
    wait on another process, not on the service's clock)."""
    deadline = time.monotonic() + 60
    pause = threading.Event()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("The test OpenID provider stopped:\n" + "".join(log))
        try:
            answer = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
        except requests.ConnectionError:
            pause.wait(0.1)
            continue
        if answer.status_code == 200:
            return
        pause.wait(0.1)
    pytest.fail("The test OpenID provider did not answer in time:\n" + "".join(log))


@pytest.fixture(name="sso_on")
def sso_on_fixture(oidc_provider: Provider, settings: Any) -> Iterator[Provider]:
    """The service's single sign-on pointed at the test provider, for one test."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_API_CLIENT_IDS = [CLIENT_ID]
    settings.OIDC_DISPLAY_NAME = "Test directory"
    sso.forget_discovery()
    yield oidc_provider
    sso.forget_discovery()
