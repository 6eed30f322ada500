"""A GET never changes state: every API read and every web page, for every role, leaves every
table as it was. The one thing a GET may add is an audit event recording a read of someone's
record (that is what "who opened my record" is made of)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.db import connection, transaction

from tests import test_access_matrix as api_matrix
from tests.conftest import Cast, client_for, web_client_for
from tests.web import test_pages as web_pages
from welfare.alerts.models import Notification
from welfare.audit.models import AuditEvent

# Sessions are the log-in itself; the audit trail is compared separately below.
NOT_COMPARED = {"django_session", "audit_auditevent"}
READ_EVENTS = ("case.", "screening.read", "report.read", "checkin.read", "restriction.read",
               "queue.read", "stats.")  # fmt: skip
ROLES = ("officer", "supervisor", "oh", "hr", "admin")


def _snapshot() -> dict[str, str]:
    """Each table's rows as one digest."""
    digests = {}
    with connection.cursor() as cursor:
        for table in sorted(set(connection.introspection.table_names()) - NOT_COMPARED):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT t::text FROM {quoted} t ORDER BY 1")
            rows = "\n".join(row[0] for row in cursor.fetchall())
            digests[table] = hashlib.sha256(rows.encode()).hexdigest()
    return digests


def _made(make: Any) -> str | None:
    """A path whose records the maker creates, or None when this one cannot be made twice."""
    try:
        with transaction.atomic():
            return str(make())
    except Exception:  # a fixture maker that collides: that path is skipped
        return None


def _once(make: Any) -> Any:
    """The access tables' check-in maker, made idempotent: every path shares one check-in."""
    made: dict[tuple[Any, ...], Any] = {}

    def maker(**kwargs: Any) -> Any:
        key = tuple(sorted(kwargs.items()))
        if key not in made:
            made[key] = make(**kwargs)
        return made[key]

    return maker


@pytest.mark.parametrize("role", ROLES)
def test_no_get_changes_anything(role: str, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_pages, "checkin_trigger", _once(web_pages.checkin_trigger))
    monkeypatch.setattr(api_matrix, "checkin_trigger", _once(api_matrix.checkin_trigger))
    page_paths = [
        path
        for name, (method, _) in sorted(web_pages.PAGES.items())
        if method == "GET" and name not in {"logout"}
        and (path := _made(lambda n=name: web_pages._path(n, cast))) is not None  # type: ignore[misc]
    ]  # fmt: skip
    api_paths = [
        path
        for method, template in sorted(api_matrix.MATRIX)
        if method == "GET"
        and (path := _made(lambda t=template: api_matrix._path(t, cast))) is not None  # type: ignore[misc]
    ]
    assert len(api_paths) > 40
    assert len(page_paths) > 20
    Notification.objects.create(
        recipient=cast.user(role), dedupe_key="get", subject="s", body="b",
        link="http://testserver/me/", created_at=cast.officer_a1.user.date_joined,
    )  # fmt: skip
    api, web = client_for(cast.user(role)), web_client_for(cast.user(role))
    before, last_event = _snapshot(), AuditEvent.objects.order_by("-id").first()
    statuses = []
    for client, path in [(api, p) for p in api_paths] + [(web, p) for p in page_paths]:
        statuses.append(client.get(path).status_code)
        now = _snapshot()
        assert {t for t in before if before[t] != now.get(t)} == set(), path
    after = _snapshot()
    assert 200 in statuses
    assert {t for t in before if before[t] != after.get(t)} == set()
    added = AuditEvent.objects.filter(id__gt=last_event.pk if last_event else 0)
    assert {e.action for e in added if not e.action.startswith(READ_EVENTS)} == set()
    assert not Notification.objects.filter(read_at__isnull=False).exists()
