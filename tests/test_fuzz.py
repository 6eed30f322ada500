"""Schemathesis against the service's own OpenAPI document, as every role.

The document is fetched from the running app (`GET /api/schema/`), and every operation in it
is called with generated input, valid and invalid. Each generated request is sent with a real
bearer token (second factor verified) of an officer, a supervisor, an OH clinician, an HR
analyst and an admin, and with no token. Every answer must be free of server errors and must
be what the document says: a documented status code, a body that matches the documented
schema, the documented content type. A 4xx for bad input or for a role the endpoint refuses
is fine, as long as the document lists it; a 5xx never is.

How it runs, and why:

- In process, through `backend.wsgi.application`: the handler, middleware, exception handler
  and 500 page that gunicorn serves, minus the socket. Each request runs in a savepoint of the
  test's transaction on the test PostgreSQL and is rolled back, so every example starts from
  the same cast and records (Hypothesis replays and shrinks examples, which needs that) and
  nothing has to be truncated afterwards. `live_server` would need committed data, a flush
  and a server thread per test, and a socket per request: several times slower for the same
  requests. Like Django's test client, the handler is kept from recycling the test's
  connection.
- One test, each operation a subtest: the cast and its records are built once, and each
  generated case is sent as every caller, so generating input (the larger cost) is paid once
  per case, not once per role. (Schemathesis' `from_fixture` loader would build a test per
  operation, but does not run on pytest 9.2; its module-level loader would fetch the schema
  while tests are collected, before there is a test database.)
- Path ids are drawn from the rows that exist as often as from anywhere, so item views and
  actions answer with real rows and their bodies are checked too, not only their 404s.
- A fixed number of examples per operation, derandomized, with no example database: the same
  requests on every run. About 30 s on two cores (90 operations, 6 cases each, 6 callers).
"""

from __future__ import annotations

import os
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.wsgi import application
from tests.conftest import T0, Cast, connection_kept
from welfare.accounts.services import otp_device_start, token_issue
from welfare.alerts.models import Notification
from welfare.alerts.services import alert_raise, webhook_create
from welfare.audit.models import AuditEvent
from welfare.casework.services import note_write, report_act, report_draft, screening_submit
from welfare.checkins.services import checkin_trigger, self_refer
from welfare.exposure.services import exposure_log, force_policy, restriction_create
from welfare.people.services import rotation_review_record

SCHEMA_PATH = "/api/schema/"
ROLES = ["officer", "supervisor", "oh", "hr", "admin"]
# Cases per operation, valid and invalid input together, each sent as every role and with no
# token. With ~90 operations this keeps the file near half a minute on two cores; dig deeper
# locally with FUZZ_EXAMPLES=200.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Explicit, so a stray schemathesis.toml cannot change the run.
CONFIG = schemathesis.Config()
# The collection a path parameter names, where its name alone does not say it.
PARAMETER_COLLECTIONS = {
    "officer_id": "officers",
    "checkin_id": "checkins",
    "unit_id": "units",
    "device_id": "devices",
}


class ServerErrors:
    """Exceptions the handler turned into a 500, shown with the failing example."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        self.seen.append(traceback.format_exc())


@contextmanager
def _server_errors() -> Iterator[ServerErrors]:
    errors = ServerErrors()
    signals.got_request_exception.connect(errors, weak=False)
    try:
        yield errors
    finally:
        signals.got_request_exception.disconnect(errors)


# Ids of existing rows, by the collection a path names them in.
Records = dict[str, list[int]]


def _records(cast: Cast) -> Records:
    """One of each kind of record about the cast, made through the services."""
    a1, b1 = cast.officer_a1, cast.officer_b1

    def session(officer: Any, hours_ago: int) -> int:
        started = T0 - timedelta(hours=hours_ago)
        return exposure_log(
            officer=officer,
            recorded_by=officer.user,
            started_at=started,
            ended_at=started + timedelta(minutes=50),
            material="video",
            category="B",
            client_ref=uuid.uuid4(),
        ).session.pk

    checkin = checkin_trigger(officer_id=a1.pk, due_on=date(2027, 3, 17), key="fuzz")
    assert checkin is not None
    screening_submit(
        actor=a1.user, checkin=checkin, instrument_key="phq9", answers=[1, 0, 1, 0, 1, 0, 1, 0, 0]
    )
    referral = self_refer(user=cast.officer_a2.user)
    alert, _ = alert_raise(
        officer_id=a1.pk, kind="exposure_limit", severity="warning", dedupe_key="fuzz"
    )
    notification = Notification.objects.create(
        recipient=a1.user, dedupe_key="fuzz", subject="s", body="b", created_at=T0
    )
    note_write(actor=cast.oh1, officer=a1, body="Synthetic note for the fuzz run.")
    report = report_act(
        actor=cast.oh1,
        report=report_draft(actor=cast.oh1, officer=a1, fitness="fit"),
        action="offer",
    )
    restriction = restriction_create(
        actor=cast.oh1, officer=a1, starts_on=date(2027, 3, 1), daily_minutes=120
    )
    posting = a1.postings.get()
    review = rotation_review_record(
        actor=cast.supervisor_a, posting=posting, decision="stay", next_review_on=date(2027, 9, 1)
    )
    webhook = webhook_create(
        actor=cast.admin, unit=cast.unit_a, url="https://chat.example.invalid/hook"
    )
    users = [cast.user(name) for name in ("officer", "supervisor", "oh", "hr", "admin")]
    devices = [otp_device_start(user=user, verified=True, name="phone").pk for user in users]
    officers = [a1, cast.officer_a2, b1]
    return {
        "users": [user.pk for user in users],
        "units": [cast.unit_a.pk, cast.unit_b.pk],
        "officers": [officer.pk for officer in officers],
        "postings": [p.pk for officer in officers for p in officer.postings.all()],
        "exposures": [session(a1, 3), session(a1, 26), session(b1, 5)],
        "checkins": [checkin.pk, referral.pk],
        "alerts": [alert.pk],
        "notifications": [notification.pk],
        "reports": [report.pk],
        "restrictions": [restriction.pk],
        "rotation-reviews": [review.pk],
        "webhooks": [webhook.pk],
        "policies": [force_policy().pk],
        "devices": devices,
        "audit": list(AuditEvent.objects.order_by("id").values_list("id", flat=True)[:3]),
    }


def _collection_of(path: str, parameter: str) -> str:
    if parameter in PARAMETER_COLLECTIONS:
        return PARAMETER_COLLECTIONS[parameter]
    segments = path.strip("/").split("/")
    at = next(n for n, segment in enumerate(segments) if f"{{{parameter}}}" in segment)
    return segments[at - 1]


def _cases(operation: Any, records: Records) -> st.SearchStrategy[schemathesis.Case]:
    """Valid and invalid cases; half of them with path ids of rows that exist."""
    generated = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    known = {
        parameter.name: records.get(_collection_of(operation.path, parameter.name), [])
        for parameter in operation.path_parameters
    }
    known = {name: ids for name, ids in known.items() if ids}
    if not known:
        return generated

    def aim(drawn: tuple[schemathesis.Case, bool, dict[str, int]]) -> schemathesis.Case:
        case, at_known_rows, ids = drawn
        if at_known_rows:
            case.path_parameters = {**(case.path_parameters or {}), **ids}
        return case

    ids = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in known.items()})
    return st.tuples(generated, st.booleans(), ids).map(aim)


def _fuzz(
    operation: Any,
    records: Records,
    callers: dict[str, dict[str, str]],
    errors: ServerErrors,
    answered: Counter[str],
) -> Callable[[], None]:
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # Schema-driven data is slow and large to generate by Hypothesis' standards: expected.
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, records))
    def run(case: schemathesis.Case) -> None:
        for caller, headers in callers.items():
            errors.seen.clear()
            with transaction.atomic():
                response = case.call(headers=headers)
                transaction.set_rollback(True)
            answered[caller] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseException as failure:
                failure.add_note(f"Caller: {caller}")
                for trace in errors.seen:
                    failure.add_note(trace)
                raise

    return run


def _headers(cast: Cast) -> dict[str, dict[str, str]]:
    callers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in ROLES:
        raw, _ = token_issue(user=cast.user(role), otp_verified=True)
        callers[role] = {"Authorization": f"Bearer {raw}"}
    return callers


def test_every_answer_is_documented_and_no_server_error(
    cast: Cast, subtests: pytest.Subtests
) -> None:
    records = _records(cast)
    callers = _headers(cast)
    with connection_kept(), _server_errors() as errors:
        schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application, config=CONFIG)
        results = list(schema.get_all_operations())
        invalid = [result.err() for result in results if not isinstance(result, Ok)]
        assert not invalid, f"operations the document describes badly: {invalid}"
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        assert len(operations) > 80, "the document lists the API's operations"
        for operation in operations:
            answered: Counter[str] = Counter()
            with subtests.test(operation.label):
                _fuzz(operation, records, callers, errors, answered)()
                assert set(answered) == set(callers), (
                    f"not called as {set(callers) - set(answered)}"
                )
