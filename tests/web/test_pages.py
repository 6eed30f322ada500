"""Every page x every role, from one table (a new page without a row fails), and the forms."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import URLPattern

from tests.conftest import T0, Cast, web_client_for
from tests.web.passkeys import passkey_for
from welfare.accounts.models import GrantKind
from welfare.accounts.services import role_grant_propose
from welfare.alerts.models import Alert, Notification
from welfare.alerts.services import alert_raise
from welfare.casework.services import report_act, report_draft
from welfare.checkins.services import checkin_trigger
from welfare.exposure.services import restriction_create
from welfare.web import urls as web_urls

ROLES = (
    "anonymous",
    "officer",
    "other_officer",
    "supervisor",
    "other_supervisor",
    "oh",
    "hr",
    "admin",
    "unverified",
)
LOGIN = 302  # anonymous: to the log-in page
ENROL = 302  # a privileged role without a verified factor: to enrolment

# name -> (method, {role: status}); the path is built in `_path`.
PAGES: dict[str, tuple[str, dict[str, int]]] = {
    "home": (
        "GET",
        dict(
            anonymous=302,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=302,
            unverified=302,
        ),
    ),
    "login": (
        "GET",
        dict(
            anonymous=200,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=200,
        ),
    ),
    # Single sign-on: not configured in these tests, so its pages are not there for anyone;
    # the code step without a directory sign-in behind it goes back to the log-in page.
    "sso-start": ("GET", dict.fromkeys(ROLES, 404)),
    "sso-callback": ("GET", dict.fromkeys(ROLES, 404)),
    "login-code": ("GET", dict.fromkeys(ROLES, 302)),
    "logout": (
        "POST",
        dict(
            anonymous=302,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=302,
            unverified=302,
        ),
    ),
    # Signed-in people may add an authenticator (a second phone); the unverified must, first.
    "enrol": (
        "GET",
        dict(
            anonymous=302,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=200,
        ),
    ),
    "officer-home": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "officer-log": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "officer-self-refer": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "officer-incident": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "officer-records": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "calendar-key": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # Officer A1's check-in: another officer editing the URL gets a 404.
    "officer-screening": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=404,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "officer-report": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=404,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "supervisor-home": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=200,
            other_supervisor=200,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "supervisor-import": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=200,
            other_supervisor=200,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "supervisor-incident": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=200,
            other_supervisor=200,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "alerts-acknowledge": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "alert-action": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=302,
            other_supervisor=404,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "rotation-decision": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=302,
            other_supervisor=404,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-home": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-case": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-note": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-report": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-checkin": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-restriction-lift": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-report-action": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # Help is never behind a log-in.
    "help": (
        "GET",
        dict(
            anonymous=200,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=200,
        ),
    ),
    "inbox": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=ENROL,
        ),
    ),
    "inbox-read": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=302,
            unverified=ENROL,
        ),
    ),
    # How notifications are e-mailed: a choice for supervisors and clinicians only.
    "inbox-settings": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # Officer A1's own notification: it opens its link for them, and nobody else.
    "inbox-open": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=404,
            supervisor=404,
            other_supervisor=404,
            oh=404,
            hr=404,
            admin=404,
            unverified=ENROL,
        ),
    ),
    # A limit alert about officer A1: theirs, their supervisor's and OH's to open.
    "alert": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=404,
            supervisor=200,
            other_supervisor=404,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "checkin": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=404,
            supervisor=200,
            other_supervisor=404,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # A report offered to officer A1, not released: not their supervisor's to read.
    "report": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=404,
            supervisor=404,
            other_supervisor=404,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "self-check": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "self-check-form": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-cases": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-case-assign": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-clinicians": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=200,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "oh-clinician-lead": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "language": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=302,
            unverified=ENROL,
        ),
    ),
    "password": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=ENROL,
        ),
    ),
    # The cast's clinician is not a lead: refused with a message, back to the page.
    "oh-clinician-recover": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=302,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # A proposal (by the admin) that a clinician who is not a lead does not see.
    "oh-grant": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=404,
            hr=403,
            admin=403,
            unverified=ENROL,
        ),
    ),
    # No password was given in this session: back to the log-in page.
    "login-passkey": (
        "GET",
        dict(
            anonymous=302,
            officer=302,
            other_officer=302,
            supervisor=302,
            other_supervisor=302,
            oh=302,
            hr=302,
            admin=302,
            unverified=302,
        ),
    ),
    "login-passkey-begin": (
        "POST",
        dict(
            anonymous=401,
            officer=401,
            other_officer=401,
            supervisor=401,
            other_supervisor=401,
            oh=401,
            hr=401,
            admin=401,
            unverified=401,
        ),
    ),
    "login-passkey-complete": (
        "POST",
        dict(
            anonymous=401,
            officer=401,
            other_officer=401,
            supervisor=401,
            other_supervisor=401,
            oh=401,
            hr=401,
            admin=401,
            unverified=401,
        ),
    ),
    # One's own passkeys: any role, in a session verified with a second factor.
    "passkeys": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=ENROL,
        ),
    ),
    "passkeys-register-begin": (
        "POST",
        dict(
            anonymous=403,
            officer=200,
            other_officer=200,
            supervisor=200,
            other_supervisor=200,
            oh=200,
            hr=200,
            admin=200,
            unverified=403,
        ),
    ),
    # No ceremony was begun: nothing to complete.
    "passkeys-register-complete": (
        "POST",
        dict(
            anonymous=403,
            officer=400,
            other_officer=400,
            supervisor=400,
            other_supervisor=400,
            oh=400,
            hr=400,
            admin=400,
            unverified=403,
        ),
    ),
    # Another person's passkey (the unverified clinician's): not found.
    "passkey-remove": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=404,
            other_officer=404,
            supervisor=404,
            other_supervisor=404,
            oh=404,
            hr=404,
            admin=404,
            unverified=ENROL,
        ),
    ),
    "passkey-rename": (
        "POST",
        dict(
            anonymous=LOGIN,
            officer=404,
            other_officer=404,
            supervisor=404,
            other_supervisor=404,
            oh=404,
            hr=404,
            admin=404,
            unverified=ENROL,
        ),
    ),
    "hr-home": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=200,
            admin=403,
            unverified=ENROL,
        ),
    ),
    "hr-download": (
        "GET",
        dict(
            anonymous=LOGIN,
            officer=403,
            other_officer=403,
            supervisor=403,
            other_supervisor=403,
            oh=403,
            hr=200,
            admin=403,
            unverified=ENROL,
        ),
    ),
}


def test_every_page_has_a_row() -> None:
    names = {p.name for p in web_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(PAGES)


def _user(role: str, cast: Cast):
    return {
        "anonymous": None,
        "officer": cast.officer_a1.user,
        "other_officer": cast.officer_a2.user,
        "supervisor": cast.supervisor_a,
        "other_supervisor": cast.supervisor_b,
        "oh": cast.oh1,
        "hr": cast.hr,
        "admin": cast.admin,
        "unverified": cast.oh2,
    }[role]


def _path(name: str, cast: Cast) -> str:
    officer = cast.officer_a1
    checkin = checkin_trigger(officer_id=officer.pk, due_on=date(2027, 3, 17), key="page")
    paths = {
        "home": "/", "login": "/login", "logout": "/logout", "enrol": "/enrol",
        "sso-start": "/login/sso", "sso-callback": "/login/sso/callback?code=c&state=s",
        "login-code": "/login/code",
        "officer-home": "/me/", "officer-log": "/me/sessions", "officer-self-refer": "/me/self-referral",
        "officer-records": "/me/records", "calendar-key": "/me/calendar-key",
        "officer-screening": f"/me/checkins/{checkin.pk}/phq9",
        "supervisor-home": "/unit/", "supervisor-import": "/unit/import",
        "oh-home": "/oh/", "oh-case": f"/oh/cases/{officer.pk}", "oh-note": f"/oh/cases/{officer.pk}/notes",
        "oh-report": f"/oh/cases/{officer.pk}/reports", "oh-checkin": f"/oh/checkins/{checkin.pk}/cancel",
        "hr-home": "/hr/", "hr-download": "/hr/download?table=alerts&format=csv",
        "help": "/help", "inbox": "/inbox", "inbox-read": "/inbox/read", "inbox-settings": "/inbox/settings",
        "checkin": f"/checkins/{checkin.pk}", "self-check": "/me/self-check",
        "self-check-form": "/me/self-check/phq9", "oh-cases": "/oh/cases/",
        "oh-case-assign": f"/oh/cases/{officer.pk}/assign", "oh-clinicians": "/oh/clinicians",
        "oh-clinician-lead": f"/oh/clinicians/{cast.oh2.pk}/lead", "password": "/password", "language": "/language",
        "oh-clinician-recover": f"/oh/clinicians/{cast.oh2.pk}/recover",
        "officer-incident": "/me/incidents", "supervisor-incident": "/unit/incidents", "alerts-acknowledge": "/alerts/acknowledge",
        "login-passkey": "/login/passkey", "login-passkey-begin": "/login/passkey/begin",
        "login-passkey-complete": "/login/passkey/complete", "passkeys": "/passkeys",
        "passkeys-register-begin": "/passkeys/register/begin",
        "passkeys-register-complete": "/passkeys/register/complete",
    }  # fmt: skip
    if name in {"passkey-remove", "passkey-rename"}:
        passkey = passkey_for(cast.oh2)
        return f"/passkeys/{passkey.pk}/{name.removeprefix('passkey-')}"
    if name == "oh-restriction-lift":
        restriction = restriction_create(
            actor=cast.oh1, officer=officer, starts_on=date(2027, 3, 10), daily_minutes=60
        )
        return f"/oh/restrictions/{restriction.pk}/lift"
    if name == "oh-grant":
        grant, _ = role_grant_propose(actor=cast.admin, user=cast.hr, kind=GrantKind.OH)
        return f"/oh/role-grants/{grant.pk}/approve"
    if name == "officer-report":
        report = report_draft(actor=cast.oh1, officer=officer, fitness="fit")
        report_act(actor=cast.oh1, report=report, action="offer")
        return f"/me/reports/{report.pk}/decline"
    if name == "oh-report-action":
        return (
            f"/oh/reports/{report_draft(actor=cast.oh1, officer=officer, fitness='fit').pk}/offer"
        )
    if name == "alert-action":
        alert, _ = alert_raise(
            officer_id=officer.pk, kind="exposure_limit", severity="warning", dedupe_key="page"
        )
        return f"/alerts/{alert.pk}/acknowledge"
    if name == "rotation-decision":
        return f"/rotation/{officer.postings.get().pk}"
    if name == "alert":
        alert, _ = alert_raise(
            officer_id=officer.pk, kind="exposure_limit", severity="warning", dedupe_key="page"
        )
        return f"/alerts/{alert.pk}"
    if name == "report":
        report = report_draft(actor=cast.oh1, officer=officer, fitness="fit")
        return f"/reports/{report_act(actor=cast.oh1, report=report, action='offer').pk}"
    if name == "inbox-open":
        notified = Notification.objects.create(
            recipient=officer.user,
            dedupe_key="page",
            subject="s",
            body="b",
            link=f"http://testserver/checkins/{checkin.pk}",
            created_at=T0,
        )
        return f"/inbox/{notified.pk}"
    return paths[name]


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_page_access(name: str, role: str, cast: Cast) -> None:
    method, expected = PAGES[name]
    client = web_client_for(_user(role, cast), verified=role != "unverified")
    path = _path(name, cast)
    response = (
        client.post(
            path, {"reason": "page test", "decision": "stay", "next_review_on": "2027-09-01"}
        )
        if method == "POST"
        else client.get(path)
    )
    assert response.status_code == expected[role], (
        role,
        name,
        response.status_code,
        response.content[:200],
    )
    elsewhere = {"home", "logout", "enrol", "login-passkey"}
    if expected[role] == LOGIN and role == "anonymous" and name not in elsewhere:
        assert response["Location"].startswith("/login")
    # The code step after single sign-on and the passkey step after the password belong to
    # the log-in, not to enrolment.
    unverified_elsewhere = elsewhere | {"login-code"}
    if role == "unverified" and expected[role] == ENROL and name not in unverified_elsewhere:
        assert response["Location"] == "/enrol"
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_oh_acknowledges_several_queue_items_at_once(cast: Cast, clock) -> None:
    """The work queue's bulk acknowledge: each ticked alert is acknowledged and audited,
    one already resolved is left as it was, and an alert the clinician may not see (none
    here: OH sees all) or a missing choice changes nothing."""
    from welfare.audit.models import AuditEvent

    raised = [
        alert_raise(
            officer_id=cast.officer_a1.pk,
            kind="screening_risk",
            severity="warning",
            dedupe_key=f"bulk-{n}",
            clinical=True,
        )[0]
        for n in range(3)
    ]
    client = web_client_for(cast.oh1)
    page = client.get("/oh/").content.decode()
    assert 'form="bulk-ack"' in page
    assert page.count('name="alert"') == 3
    response = client.post(
        "/alerts/acknowledge", {"alert": [raised[0].pk, raised[1].pk], "next": "/oh/"}
    )
    assert response.status_code == 302
    statuses = {a.pk: a.status for a in Alert.objects.filter(pk__in=[a.pk for a in raised])}
    assert statuses == {
        raised[0].pk: "acknowledged",
        raised[1].pk: "acknowledged",
        raised[2].pk: "open",
    }
    assert AuditEvent.objects.filter(action="alert.acknowledged").count() == 2
    nothing = client.post("/alerts/acknowledge", {"next": "/oh/"})
    assert nothing.status_code == 302
    assert Alert.objects.get(pk=raised[2].pk).status == "open"


def test_a_supervisor_cannot_acknowledge_another_units_alert_in_bulk(cast: Cast, clock) -> None:
    mine, _ = alert_raise(
        officer_id=cast.officer_b1.pk, kind="exposure_limit", severity="high", dedupe_key="b1"
    )
    theirs, _ = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="high", dedupe_key="a1"
    )
    client = web_client_for(cast.supervisor_b)
    response = client.post("/alerts/acknowledge", {"alert": [mine.pk, theirs.pk]}, follow=True)
    assert "Choose one or more of your alerts" in response.content.decode()
    assert set(
        Alert.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("status", flat=True)
    ) == {"open"}


def test_filtering_the_supervisors_alerts_by_officer_keeps_resolved_ones_out(
    cast: Cast, clock
) -> None:
    from welfare.alerts.services import alert_resolve

    done, _ = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="high", dedupe_key="done"
    )
    alert_resolve(actor=cast.supervisor_a, alert=done, note="Talked it through.")
    live, _ = alert_raise(
        officer_id=cast.officer_a1.pk, kind="exposure_limit", severity="high", dedupe_key="live"
    )
    page = web_client_for(cast.supervisor_a).get(f"/unit/?officer={cast.officer_a1.pk}")
    body = page.content.decode()
    assert f"/alerts/{live.pk}" in body
    assert f"/alerts/{done.pk}" not in body
