"""No JIT compilation on the application's and the retention job's connections: its cost
comes with the planner's estimate, which grows with the population, so a statement that
runs in milliseconds starts to cost seconds once a force is large enough (retention's
last-entry read did, at 8,000 officers)."""

from __future__ import annotations

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", "retention"])


@pytest.mark.parametrize("alias", ["default", "retention"])
def test_the_connection_runs_without_jit(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
