"""Logging a session is one service path in Python again (exposure.services.exposure_log,
one transaction), so the generated database function of 0008 goes."""

from importlib import import_module

from django.db import migrations

_CREATED = import_module("welfare.exposure.migrations.0008_log_function")


class Migration(migrations.Migration):
    dependencies = [("exposure", "0009_corrected_force_limits")]

    operations = [migrations.RunSQL(_CREATED.DROP, _CREATED.CREATE)]
