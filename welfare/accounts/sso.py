"""Single sign-on with OpenID Connect (Entra ID, ADFS) through mozilla-django-oidc.

The library runs the flow (authorisation code with PKCE, state, nonce); this module adds
what it leaves to the relying party: the issuer's discovery document, the id_token's
issuer, audience and times (on the service's clock), and the match of the person to an
existing account by their directory id (`welfare.accounts.services.sso_sign_in`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from welfare.accounts.models import User
from welfare.accounts.rules import authorized_party_refusal, id_token_time_refusal
from welfare.accounts.services import sso_refusal_record, sso_sign_in
from welfare.core import clock
from welfare.core.errors import DomainError

logger = logging.getLogger(__name__)

# Set on the request by the backend for the callback view: what the sign-in decided.
OUTCOME_ATTRIBUTE = "_welfare_sso_outcome"
REFUSAL_ATTRIBUTE = "_welfare_sso_refusal"

_ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
}


class SsoUnavailable(Exception):
    """The provider's discovery document cannot be had, or does not fit the configuration."""


class TokenRefused(SuspiciousOperation):
    """An id_token failed a check; `reason` is audited (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def configured() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


_discovered: dict[str, dict[str, Any]] = {}
_discovery_lock = threading.Lock()


def discovery() -> dict[str, Any]:
    """The issuer's `/.well-known/openid-configuration`, fetched at first use and kept for
    the process; its `issuer` must be the one configured, exactly (a document naming
    another issuer is refused, so a redirect elsewhere cannot swap providers)."""
    issuer = settings.OIDC_ISSUER
    with _discovery_lock:
        cached = _discovered.get(issuer)
        if cached is not None:
            return cached
        try:
            response = requests.get(
                f"{issuer}/.well-known/openid-configuration",
                timeout=settings.OIDC_TIMEOUT,
                allow_redirects=False,
            )
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SsoUnavailable("discovery failed") from exc
        if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
            raise SsoUnavailable("discovery names another issuer")
        _discovered[issuer] = document
        return document


def forget_discovery() -> None:
    """Drop the kept discovery documents (tests; a provider that moved its endpoints)."""
    with _discovery_lock:
        _discovered.clear()


def oidc_setting(name: str) -> Any:
    """An endpoint from the settings when given there, else from the discovery document."""
    explicit = getattr(settings, name, "")
    if explicit or name not in _ENDPOINTS:
        return explicit
    value = discovery().get(_ENDPOINTS[name])
    if not value and name != "OIDC_OP_USER_ENDPOINT":
        raise SsoUnavailable(f"discovery has no {_ENDPOINTS[name]}")
    return value


def _reason(exc: SuspiciousOperation) -> str:
    """The library's own refusals, by their message: the nonce, or anything else."""
    return "nonce" if "Nonce" in str(exc) else "token_invalid"


def token_hash(id_token: str) -> str:
    return hashlib.sha256(id_token.encode()).hexdigest()


class DirectoryBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """The OIDC backend: every check on the id_token, then `sso_sign_in`. Nothing is
    fetched from the provider until a callback with a code arrives (the password log-in
    and the admin site's call `authenticate` through every backend)."""

    def __init__(self, *args: Any, audiences: list[str] | None = None, **kwargs: Any) -> None:
        # The library's own __init__ reads the endpoints at once; here they are read when
        # a sign-in needs them.
        self.UserModel = get_user_model()
        self.OIDC_RP_SIGN_ALGO = "RS256"
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.audiences = audiences

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        if attr in _ENDPOINTS:
            return oidc_setting(attr)
        return getattr(settings, attr, *args) if args else getattr(settings, attr)

    def _load(self) -> None:
        self.OIDC_OP_TOKEN_ENDPOINT = self.get_settings("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = self.get_settings("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET

    # --- the id_token's checks --------------------------------------------------------------

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Signature (RS256, a key from the provider's JWKS), issuer, audience, authorised
        party, expiry and start on the service's clock, and the nonce: the claims, or
        TokenRefused with the reason. SsoUnavailable when the provider cannot be reached."""
        self._load()
        try:
            claims = self.verify_token(id_token, nonce=nonce)
        except TokenRefused:
            raise
        except SuspiciousOperation as exc:
            raise TokenRefused(_reason(exc)) from exc
        except requests.RequestException as exc:
            raise SsoUnavailable("keys unavailable") from exc
        return dict(claims)

    def retrieve_matching_jwk(self, token: str) -> Any:
        try:
            return super().retrieve_matching_jwk(token)
        except (KeyError, TypeError, ValueError, jwt.PyJWTError) as exc:
            raise TokenRefused("signature") from exc
        except SuspiciousOperation as exc:
            raise TokenRefused("unknown_key") from exc

    def get_payload_data(self, token: str, key: Any) -> dict[str, Any]:
        # Never an unsigned token, whatever OIDC_ALLOW_UNSECURED_JWT says.
        return self._verify_jws(token, key)

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        audiences = self.audiences or [settings.OIDC_RP_CLIENT_ID]
        try:
            header = jwt.get_unverified_header(payload)
            if header.get("alg") != "RS256":
                raise TokenRefused("algorithm")
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=["RS256"],
                audience=audiences,
                issuer=settings.OIDC_ISSUER,
                # Times are checked below on the service's clock.
                options={
                    "require": ["iss", "aud", "exp", "iat", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidIssuerError as exc:
            raise TokenRefused("issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRefused("audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused("claims_missing") from exc
        except jwt.PyJWTError as exc:
            raise TokenRefused("signature") from exc
        if authorized_party_refusal(
            aud=claims.get("aud"), azp=claims.get("azp"), audiences=audiences
        ):
            raise TokenRefused("audience")
        refusal = id_token_time_refusal(
            exp=claims.get("exp"),
            iat=claims.get("iat"),
            nbf=claims.get("nbf"),
            now=clock.now().timestamp(),
            leeway=settings.OIDC_LEEWAY_SECONDS,
        )
        if refusal:
            raise TokenRefused(refusal)
        return claims

    # --- the code flow's callback ----------------------------------------------------------

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Only the SSO callback passes a nonce; any other `authenticate` is not for us.
        if request is None or "nonce" not in kwargs or not configured():
            return None
        try:
            self._load()
            return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]
        except TokenRefused as refused:
            sso_refusal_record(reason=refused.reason, channel="web")
        except SuspiciousOperation as exc:
            sso_refusal_record(reason=_reason(exc), channel="web")
        except (SsoUnavailable, requests.RequestException):
            logger.warning("sso.provider_unavailable")
            sso_refusal_record(reason="provider_unavailable", channel="web")
        return None

    def store_tokens(self, access_token: str, id_token: str) -> None:
        # Neither token is kept: the session is the service's own from here on.
        return None

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """The account the verified id_token names (never created here); the outcome (a code
        still owed, the directory's multi-factor) goes to the callback view."""
        try:
            outcome = sso_sign_in(claims=payload, channel="web")
        except DomainError as refused:
            setattr(self.request, REFUSAL_ATTRIBUTE, refused.message)
            return None
        setattr(self.request, OUTCOME_ATTRIBUTE, outcome)
        return outcome.user

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id).first()
