"""The inbox's e-mail setting: a supervisor or clinician chooses a daily digest (the default)
or every message at once; the change is audited as through the API. Officers, HR and
administrators have no such choice: their messages are e-mailed at once."""

from __future__ import annotations

import pytest

from tests.conftest import Cast, web_client_for
from welfare.accounts.models import NotifyBy, User
from welfare.audit.models import AuditEvent

FORM = 'action="/inbox/settings"'


def checked(body: str) -> str:
    """Which choice the form shows as chosen."""
    digest = 'id="notify-digest" name="notify_by" value="digest" checked' in body
    immediate = 'id="notify-immediate" name="notify_by" value="immediate" checked' in body
    assert digest != immediate, "exactly one choice is checked"
    return "digest" if digest else "immediate"


@pytest.mark.parametrize("who", ["supervisor", "oh"])
def test_supervisors_and_clinicians_choose_in_their_inbox(cast: Cast, who: str) -> None:
    user = cast.user(who)
    client = web_client_for(user)
    body = client.get("/inbox").content.decode()
    assert FORM in body
    assert checked(body) == "digest"
    assert "In one summary a day, at 08:00" in body

    response = client.post("/inbox/settings", {"notify_by": "immediate"}, follow=True)
    assert response.redirect_chain == [("/inbox", 302)]
    page = response.content.decode()
    assert "Saved: every message is e-mailed as it arrives." in page
    assert checked(page) == "immediate"
    user.refresh_from_db()
    assert user.notify_by == NotifyBy.IMMEDIATE
    [event] = AuditEvent.objects.filter(action="user.notify_by.changed")
    assert (event.actor_id, event.target_id) == (user.pk, str(user.pk))
    assert event.detail == {"notify_by": "immediate", "previous": "digest"}


def test_the_digest_hour_shown_is_the_configured_one(cast: Cast, settings) -> None:
    settings.NOTIFICATION_DIGEST_HOUR = 7
    body = web_client_for(cast.oh1).get("/inbox").content.decode()
    assert "In one summary a day, at 07:00" in body


@pytest.mark.parametrize("value", ["weekly", ""])
def test_a_choice_not_offered_changes_nothing(cast: Cast, value: str) -> None:
    client = web_client_for(cast.supervisor_a)
    response = client.post("/inbox/settings", {"notify_by": value}, follow=True)
    assert "Choose how you want to be e-mailed." in response.content.decode()
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.notify_by == NotifyBy.DIGEST
    assert not AuditEvent.objects.filter(action="user.notify_by.changed").exists()


def test_others_have_no_choice(cast: Cast) -> None:
    others: list[User] = [cast.officer_a1.user, cast.hr]
    for user in others:
        client = web_client_for(user)
        assert FORM not in client.get("/inbox").content.decode()
        response = client.post("/inbox/settings", {"notify_by": "immediate"})
        assert response.status_code == 403
        user.refresh_from_db()
        assert user.notify_by == NotifyBy.DIGEST
    assert not AuditEvent.objects.filter(action="user.notify_by.changed").exists()


def test_the_setting_is_posted_only_when_signed_in_and_verified(cast: Cast) -> None:
    signed_out = web_client_for(None).post("/inbox/settings", {"notify_by": "immediate"})
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith("/login")
    unverified = web_client_for(cast.supervisor_a, verified=False)
    response = unverified.post("/inbox/settings", {"notify_by": "immediate"})
    assert response.status_code == 302
    assert response["Location"] == "/enrol"
    assert web_client_for(cast.supervisor_a).get("/inbox/settings").status_code == 405
    cast.supervisor_a.refresh_from_db()
    assert cast.supervisor_a.notify_by == NotifyBy.DIGEST
