"""Create the service's client and the directory's synthetic people from a JSON document
on standard input: {"client_id", "client_secret", "redirect_uri", "users": [{"username",
"password", "sub", "groups": [...], "mfa": bool}]}."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        spec = json.load(sys.stdin)
        application = get_application_model()
        application.objects.create(
            name="Welfare service",
            client_id=spec["client_id"],
            client_secret=spec["client_secret"],
            client_type=application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=spec["redirect_uri"],
            algorithm=application.RS256_ALGORITHM,
            skip_authorization=False,
        )
        users = get_user_model()
        for person in spec["users"]:
            user = users(
                username=person["username"],
                first_name=person["sub"],
                last_name=",".join(person.get("groups", [])),
                is_staff=bool(person.get("mfa")),
            )
            user.set_password(person["password"])
            user.save()
