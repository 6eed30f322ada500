"""The web twin of the API's marker walk (tests/casework/test_confidentiality.py): with a
marker in every clinical field of officer A1's case, every page of the web app, filled with
every id of A1's records, is searched for the markers and the clinical words as each non-OH
role. Occupational health does see them, so the walk is not searching pages that hold
nothing."""

from __future__ import annotations

import itertools
import re

import pytest
from django.urls import URLPattern

from tests.casework.test_confidentiality import (  # noqa: F401 - the fixture
    CLINICAL_WORDS,
    MARKERS,
    clinical_record,
)
from tests.conftest import Cast, web_client_for
from tests.web.passkeys import passkey_for
from welfare.accounts.models import GrantKind
from welfare.accounts.services import role_grant_propose
from welfare.alerts.models import Alert, AlertKind, Notification
from welfare.casework.models import ManagementReport, ReportState
from welfare.casework.rules import FLAG_WORDS
from welfare.checkins import instruments
from welfare.checkins.models import CheckIn, Kind
from welfare.exposure.models import Restriction
from welfare.web import urls as web_urls
from welfare.web.views import STATS_VIEWS

# The words the web pages use for the same facts: a flag in words, a screening alert's kind.
# Officer A1's case with a marker in every clinical field, for every test here.
pytestmark = pytest.mark.usefixtures("clinical_record")

WEB_CLINICAL_WORDS = (*FLAG_WORDS.values(), AlertKind.SCREENING_RISK.label)
# One action each is enough: these routes take POST only, and a GET must show nothing.
ACTIONS = {
    "alert-action": "acknowledge",
    "officer-report": "consent",
    "oh-checkin": "complete",
    "oh-report-action": "offer",
    "oh-grant": "approve",
}


def _web_paths(cast: Cast) -> list[str]:
    """Every route of the web app, each parameter filled with every id of officer A1's
    records (and every notification, whoever it is for), plus the pages' query variants."""
    officer = cast.officer_a1
    fill = {
        "alert_id": list(Alert.objects.filter(officer=officer).values_list("pk", flat=True)),
        "checkin_id": list(CheckIn.objects.filter(officer=officer).values_list("pk", flat=True)),
        "report_id": list(
            ManagementReport.objects.filter(officer=officer).values_list("pk", flat=True)
        ),
        "notification_id": list(Notification.objects.values_list("pk", flat=True)),
        "restriction_id": list(
            Restriction.objects.filter(officer=officer).values_list("pk", flat=True)
        ),
        "officer_id": [officer.pk],
        "user_id": [officer.user.pk, cast.oh1.pk],
        "posting_id": list(officer.postings.values_list("pk", flat=True)),
        "key": [i.key for i in instruments.available()],
        # A proposal to make the HR analyst a clinician (not about officer A1's records).
        "grant_id": [role_grant_propose(actor=cast.admin, user=cast.hr, kind=GrantKind.OH)[0].pk],
        # Officer A1's passkey (its pages are POST-only: a GET shows nothing of anyone's).
        "passkey_id": [passkey_for(officer.user).pk],
    }
    assert all(fill.values()), {name: ids for name, ids in fill.items() if not ids}
    paths = []
    for pattern in web_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        choices = [[ACTIONS[pattern.name]] if n == "action" else fill[n] for n in names]
        for values in itertools.product(*choices):
            path = route
            for value in values:
                path = re.sub(r"<[^>]+>", str(value), path, count=1)
            paths.append("/" + path)
    paths += [
        "/inbox?show=unread",
        "/inbox?page=2",
        "/oh/?scope=all",
        "/oh/?scope=unassigned",
        *(f"/hr/?table={name}" for name in STATS_VIEWS),
        *(f"/hr/download?table={name}&format=csv" for name in STATS_VIEWS),
    ]
    return paths


def _walk(client, paths: list[str]) -> dict[str, tuple[int, str]]:
    """Each path's final status and body, redirects followed (the home page to the role's
    home, an inbox item to the page it opens: its Open button POSTs)."""
    seen = {}
    for path in paths:
        opens = path.startswith("/inbox/") and path.removeprefix("/inbox/").isdigit()
        response = (client.post if opens else client.get)(path, follow=True)
        seen[path] = (response.status_code, response.content.decode(errors="replace"))
    return seen


@pytest.mark.parametrize(
    "who", ["officer", "other_officer", "supervisor", "other_supervisor", "hr", "admin"]
)
def test_no_clinical_marker_reaches_a_non_oh_role_on_any_web_page(cast: Cast, who: str) -> None:
    user = {
        "officer": cast.officer_a1.user,
        "other_officer": cast.officer_a2.user,
        "supervisor": cast.supervisor_a,
        "other_supervisor": cast.supervisor_b,
        "hr": cast.hr,
        "admin": cast.admin,
    }[who]
    allowed: set[str] = set()
    if who == "officer":  # their own results, and why a report about them was disclosed
        allowed = {
            "self_harm_thoughts",
            "over_cutoff",
            FLAG_WORDS["self_harm_thoughts"],
            FLAG_WORDS["over_cutoff"],
            MARKERS["legal"],
        }
    paths = _web_paths(cast)
    seen = _walk(web_client_for(user), paths)
    for path, (_status, body) in seen.items():
        for marker in [*MARKERS.values(), *CLINICAL_WORDS, *WEB_CLINICAL_WORDS]:
            if marker in allowed:
                continue
            assert marker not in body, (who, path, marker)
    assert len(seen) > 60
    opened = [path for path, (status, _body) in seen.items() if status == 200]
    assert len(opened) >= 6, opened  # the home page, the inbox, help and what the role may see
    assert seen["/"][0] == 200
    assert seen["/inbox"][0] == 200
    assert seen["/inbox?show=unread"][0] == 200


def test_the_officer_sees_their_own_records_on_the_walk(
    cast: Cast,
) -> None:
    """The officer's walk reaches their items: not a walk of 404s that proves nothing."""
    seen = _walk(web_client_for(cast.officer_a1.user), _web_paths(cast))
    disclosed = ManagementReport.objects.get(state=ReportState.DISCLOSED)
    assert seen[f"/reports/{disclosed.pk}"][0] == 200
    assert MARKERS["legal"] in seen[f"/reports/{disclosed.pk}"][1]
    referral = CheckIn.objects.get(kind=Kind.SELF_REFERRAL)
    assert seen[f"/checkins/{referral.pk}"][0] == 200
    own_notifications = Notification.objects.filter(recipient=cast.officer_a1.user)
    assert own_notifications.exists()
    assert all(seen[f"/inbox/{n.pk}"][0] == 200 for n in own_notifications)


def test_the_supervisor_sees_the_disclosed_report_on_the_walk(
    cast: Cast,
) -> None:
    seen = _walk(web_client_for(cast.supervisor_a), _web_paths(cast))
    disclosed = ManagementReport.objects.get(state=ReportState.DISCLOSED)
    status, body = seen[f"/reports/{disclosed.pk}"]
    referral = CheckIn.objects.get(kind=Kind.SELF_REFERRAL)
    assert seen[f"/checkins/{referral.pk}"][0] == 404  # a self-referral is never theirs
    assert status == 200
    assert "Desk duties." in body  # the operational adjustments management may read
    assert MARKERS["legal"] not in body
    assert cast.officer_a1.display_name in seen["/"][1]  # the unit page


def test_oh_does_see_the_markers_on_the_case_page(
    cast: Cast,
) -> None:
    client = web_client_for(cast.oh1)
    response = client.get(f"/oh/cases/{cast.officer_a1.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert [name for name in ("note", "comment", "referral") if MARKERS[name] not in body] == []


def test_oh_does_see_every_marker_somewhere_on_the_walk(
    cast: Cast,
) -> None:
    seen = _walk(web_client_for(cast.oh1), _web_paths(cast))
    everything = "".join(body for _status, body in seen.values())
    missing = [name for name in MARKERS if MARKERS[name] not in everything]
    assert missing == []
    assert FLAG_WORDS["self_harm_thoughts"] in everything
