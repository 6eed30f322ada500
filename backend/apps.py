from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackendConfig(AppConfig):
    """The project itself: project-wide management commands (seed_demo)."""

    name = "backend"
    default = True


class WelfareAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the site that enforces role `admin` and two-factor."""

    default = False
    default_site = "backend.admin_site.WelfareAdminSite"
