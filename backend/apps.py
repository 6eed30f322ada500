from typing import Any

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.signals import connection_created

from backend.db_roles import OWNER_MARK

CHECKED_ALIASES = {"default", "retention", "replica"}
SUPERUSER_REFUSED = (
    "The {alias} database connection is a PostgreSQL superuser, which could switch off the "
    "triggers that keep records: connect as the application's own role (README, Database roles)."
)


def refuse_superuser(sender: Any, connection: Any, **kwargs: Any) -> None:
    """PostgreSQL reports `is_superuser` when a session starts: checking it costs nothing."""
    from django.conf import settings

    if not settings.DATABASE_REFUSE_SUPERUSER or connection.alias not in CHECKED_ALIASES:
        return
    if connection.settings_dict.get(OWNER_MARK):  # backend.db_roles.as_owner(), on purpose
        return
    if connection.connection.info.parameter_status("is_superuser") == "on":
        connection.connection.close()
        connection.connection = None  # every later use connects again, and is refused again
        raise ImproperlyConfigured(SUPERUSER_REFUSED.format(alias=connection.alias))


class BackendConfig(AppConfig):
    """The project itself: project-wide management commands (seed_demo, db_roles)."""

    name = "backend"
    default = True

    def ready(self) -> None:
        connection_created.connect(refuse_superuser, dispatch_uid="backend.refuse_superuser")


class WelfareAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the site that enforces role `admin` and two-factor."""

    default = False
    default_site = "backend.admin_site.WelfareAdminSite"
