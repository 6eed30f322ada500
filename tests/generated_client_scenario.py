"""What each role does in the Part 16 story, written only against the client that
openapi-python-client generates from the service's OpenAPI document (package
`welfare_api_client`): its typed functions and models, no URLs, no dicts.

`tests/test_generated_client.py` generates the package from the document the app serves,
puts it on the path, imports this module and checks the database after each step. This
module knows nothing of Django: it is the code a client's author would write with the
document alone. mypy checks it against the generated package (see that test module).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from welfare_api_client import AuthenticatedClient, Client
from welfare_api_client.api.alerts import alerts_acknowledge_create, alerts_list
from welfare_api_client.api.auth import auth_login_create
from welfare_api_client.api.checkins import (
    checkins_book_create,
    checkins_complete_create,
    checkins_list,
)
from welfare_api_client.api.exposures import exposures_amend_create, exposures_create
from welfare_api_client.api.stats import stats_exposure_retrieve
from welfare_api_client.models import (
    AlertOutput,
    AlertsListKindItem,
    AlertsListStatusItem,
    AmendInputRequest,
    BookInputRequest,
    CategoryEnum,
    CheckinClinicalOutput,
    CheckinsListStatusItem,
    CompleteInputRequest,
    ExposureInputRequest,
    ExposureOutput,
    LoginInputRequest,
    LoginOutput,
    MaterialEnum,
    OutcomeEnum,
    PaginatedAlertOutputList,
    PaginatedCheckinOutputList,
    StatsExposureRetrieveAudience,
    StatsOutput,
)
from welfare_api_client.types import Response

BASE_URL = "http://testserver"

Parsed = TypeVar("Parsed")


def parsed(response: Response[Any], kind: type[Parsed]) -> Parsed:
    """The answer's model, or the status and body that came instead (error bodies are not
    described in the document, so the client parses them as None)."""
    assert isinstance(response.parsed, kind), f"{response.status_code}: {response.content!r}"
    return response.parsed


def log_in(transport: httpx.BaseTransport, username: str, password: str, otp: str) -> Session:
    """Password and a code from the authenticator, as every role signs in to the API."""
    anonymous = Client(
        base_url=BASE_URL, raise_on_unexpected_status=True, httpx_args={"transport": transport}
    )
    body = LoginInputRequest(username=username, password=password, otp=otp)
    login = parsed(auth_login_create.sync_detailed(client=anonymous, body=body), LoginOutput)
    client = AuthenticatedClient(
        base_url=BASE_URL,
        token=login.token,
        raise_on_unexpected_status=True,
        httpx_args={"transport": transport},
    )
    return Session(login=login, client=client)


@dataclass(frozen=True)
class Session:
    login: LoginOutput
    client: AuthenticatedClient


# --- The officer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    logged: list[ExposureOutput]
    retried: ExposureOutput
    amended: ExposureOutput


def officer_logs_and_amends_a_day(officer: AuthenticatedClient, morning: datetime) -> Day:
    """Six sessions of video from `morning`, with breaks; the last was logged as 20 minutes
    and ran to 55, which the officer amends (the day then goes past the daily limit).
    One session is sent twice, as a client retries after a lost answer."""
    sessions = []
    for n in range(6):
        started = morning + timedelta(minutes=70 * n)
        sessions.append(
            ExposureInputRequest(
                started_at=started,
                ended_at=started + timedelta(minutes=20 if n == 5 else 55),
                material=MaterialEnum.VIDEO,
                category=CategoryEnum.B,
                client_ref=uuid.uuid4(),
            )
        )
    logged = [
        parsed(exposures_create.sync_detailed(client=officer, body=body), ExposureOutput)
        for body in sessions
    ]
    retried = parsed(
        exposures_create.sync_detailed(client=officer, body=sessions[0]), ExposureOutput
    )
    last = logged[-1]
    amendment = AmendInputRequest(
        reason="The session ran on: I logged the wrong end time.",
        ended_at=last.started_at + timedelta(minutes=55),
    )
    amended = parsed(
        exposures_amend_create.sync_detailed(id=last.id, client=officer, body=amendment),
        ExposureOutput,
    )
    return Day(logged=logged, retried=retried, amended=amended)


# --- The supervisor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledged:
    listed: list[AlertOutput]
    acknowledged: AlertOutput


def supervisor_acknowledges_the_limit_alert(supervisor: AuthenticatedClient) -> Acknowledged:
    """The open exposure-limit alerts of the supervisor's units; the first acknowledged."""
    page = parsed(
        alerts_list.sync_detailed(
            client=supervisor,
            kind=[AlertsListKindItem.EXPOSURE_LIMIT],
            status=[AlertsListStatusItem.OPEN],
        ),
        PaginatedAlertOutputList,
    )
    assert page.results, "no open exposure-limit alert to acknowledge"
    acknowledged = parsed(
        alerts_acknowledge_create.sync_detailed(id=page.results[0].id, client=supervisor),
        AlertOutput,
    )
    return Acknowledged(listed=page.results, acknowledged=acknowledged)


# --- Occupational health ----------------------------------------------------------------------


def oh_books_a_checkin(oh: AuthenticatedClient, officer_id: int, at: datetime) -> int:
    """The officer's first open check-in (due or overdue), booked for `at`; its id."""
    page = parsed(
        checkins_list.sync_detailed(
            client=oh,
            officer=officer_id,
            status=[CheckinsListStatusItem.DUE, CheckinsListStatusItem.OVERDUE],
            ordering="due_on",
        ),
        PaginatedCheckinOutputList,
    )
    assert page.results, "the officer has no open check-in"
    checkin = page.results[0]
    booked = parsed(
        checkins_book_create.sync_detailed(
            id=checkin.id, client=oh, body=BookInputRequest(booked_for=at)
        ),
        CheckinClinicalOutput,
    )
    assert booked.booked_for == at
    return booked.id


def oh_completes_the_checkin(oh: AuthenticatedClient, checkin_id: int) -> CheckinClinicalOutput:
    outcome = CompleteInputRequest(
        outcome=OutcomeEnum.FIT_WITH_ADJUSTMENTS,
        adjustments="No more than four hours of viewing a day for the next month.",
    )
    return parsed(
        checkins_complete_create.sync_detailed(id=checkin_id, client=oh, body=outcome),
        CheckinClinicalOutput,
    )


# --- HR ---------------------------------------------------------------------------------------


def hr_downloads_exposure_statistics(hr: AuthenticatedClient, quarter: str) -> StatsOutput:
    return parsed(
        stats_exposure_retrieve.sync_detailed(
            client=hr,
            group_by="unit,month",
            period=quarter,
            audience=StatsExposureRetrieveAudience.HR,
        ),
        StatsOutput,
    )
