"""The database function that logs a session is created by a migration from the text the
code generates: the latest migration that creates it must match the code as it is now."""

from __future__ import annotations

import importlib
from pathlib import Path

from welfare.core.db import sql_text
from welfare.exposure import services

MIGRATIONS = Path(services.__file__).with_name("migrations")


def test_the_latest_migration_creates_the_function_the_code_describes() -> None:
    creating = sorted(
        path
        for path in MIGRATIONS.glob("[0-9]*.py")
        if f"FUNCTION {services.LOG_FUNCTION}(" in path.read_text()
    )
    assert creating, "no migration creates the log function"
    latest = importlib.import_module(f"welfare.exposure.migrations.{creating[-1].stem}")
    assert sql_text(latest.CREATE) == sql_text(services.log_function_sql()), (
        "The session model or the daily totals' statement changed: add a migration with "
        "CREATE = services.log_function_sql() as it is now."
    )
