"""The provider's claims, as a force directory's: `sub` is the person's directory id (kept
in the test user's first_name), `groups` their groups (last_name, comma-separated) and
`amr` says "mfa" for a user marked staff (as if they had used a second factor there)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class DirectoryValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below, whatever the scopes

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        groups = [g for g in user.last_name.split(",") if g]
        return {"groups": groups, "amr": ["pwd", "mfa"] if user.is_staff else ["pwd"]}

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        claims = super().get_claim_dict(request)
        claims["sub"] = request.user.first_name or str(request.user.pk)
        return claims
