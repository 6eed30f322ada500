"""The inbox: everyone's own notifications, newest first, the unread count in every page's
header, opening one marks it read and follows its link on this site only, marking read one or
all (a first read time is kept), and the same through the API."""

from __future__ import annotations

import re

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.utils.http import url_has_allowed_host_and_scheme

from tests.conftest import Cast, client_for, web_client_for
from welfare.accounts.models import User
from welfare.alerts.models import Notification
from welfare.alerts.services import notify

SITE = "http://127.0.0.1:8000"


def _tell(user: User, subject: str, *, link: str = "", key: str | None = None) -> Notification:
    notify(recipient=user, key=key or subject, subject=subject, body=f"{subject}.", link=link)
    return Notification.objects.get(recipient=user, dedupe_key=key or subject)


def _header_inbox(body: str) -> str:
    """The header's inbox link as a person reads it: "Inbox 3 unread", or "Inbox"."""
    match = re.search(r'<a href="/inbox" id="inbox-link">(.*?)</a>', body, re.S)
    assert match, "no inbox link in the header"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def _subjects(body: str) -> list[str]:
    return re.findall(r"<li class=\"notification[^\"]*\">\s*<p><strong>([^<]+)</strong>", body)


def test_inbox_lists_only_my_notifications_newest_first(cast: Cast, clock) -> None:
    me, other = cast.officer_a1.user, cast.officer_a2.user
    _tell(me, "First for me")
    clock.advance(minutes=5)
    _tell(other, "For someone else")
    _tell(cast.supervisor_a, "For the supervisor")
    clock.advance(minutes=5)
    _tell(me, "Second for me")
    _tell(me, "Third for me")  # same instant: the later one first

    body = web_client_for(me).get("/inbox").content.decode()

    assert _subjects(body) == ["Third for me", "Second for me", "First for me"]
    assert "For someone else" not in body
    assert "For the supervisor" not in body


def test_empty_inbox_says_so(cast: Cast) -> None:
    body = web_client_for(cast.hr).get("/inbox").content.decode()
    assert _subjects(body) == []
    assert "Nothing here." in body


@pytest.mark.parametrize("who", ["officer", "supervisor", "oh", "hr", "admin"])
def test_header_shows_my_unread_count_and_nothing_at_zero(cast: Cast, who: str) -> None:
    user = cast.user(who)
    client = web_client_for(user)
    assert _header_inbox(client.get("/inbox").content.decode()) == "Inbox"
    first = _tell(user, "One")
    _tell(user, "Two")
    _tell(user, "Three")
    _tell(cast.officer_b1.user, "Not mine")
    assert _header_inbox(client.get("/inbox").content.decode()) == "Inbox 3 unread"
    assert _header_inbox(client.get("/help").content.decode()) == "Inbox 3 unread"
    client.post("/inbox/read", {"notification": first.pk})
    assert _header_inbox(client.get("/inbox").content.decode()) == "Inbox 2 unread"
    client.post("/inbox/read")
    assert _header_inbox(client.get("/inbox").content.decode()) == "Inbox"


def test_header_count_is_on_the_role_home_page(cast: Cast) -> None:
    user = cast.officer_a1.user
    _tell(user, "One")
    body = web_client_for(user).get("/me/").content.decode()
    assert _header_inbox(body) == "Inbox 1 unread"


def test_opening_a_notification_marks_it_read_and_goes_to_its_link(cast: Cast, clock) -> None:
    me = cast.supervisor_a
    opened = _tell(me, "Go there", link=f"{SITE}/unit/?on=2027-03-10")
    other = _tell(me, "Stay unread", link=f"{SITE}/unit/")
    clock.advance(minutes=3)

    response = web_client_for(me).post(f"/inbox/{opened.pk}")

    assert response.status_code == 302
    assert response["Location"] == "/unit/?on=2027-03-10"  # the path and query, on this site
    opened.refresh_from_db()
    other.refresh_from_db()
    assert opened.read_at == clock.now()  # when it was opened, not when it was sent
    assert other.read_at is None


def test_a_notification_without_a_link_opens_the_inbox_and_has_no_open_button(
    cast: Cast,
) -> None:
    me = cast.supervisor_a
    plain = _tell(me, "No link here")
    client = web_client_for(me)
    assert f'action="/inbox/{plain.pk}"' not in client.get("/inbox").content.decode()
    response = client.post(f"/inbox/{plain.pk}")
    assert response.status_code == 302
    assert response["Location"] == "/inbox"
    plain.refresh_from_db()
    assert plain.read_at is not None


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/x",
        "http://evil.example",
        "//evil.example/x",
        "/\\evil.example/x",
        "https:/\\evil.example/x",
        "javascript:alert(1)",
        "evil.example/x",
    ],
)
def test_a_link_off_the_site_is_never_followed_off_the_site(cast: Cast, link: str) -> None:
    me = cast.officer_a1.user
    notification = _tell(me, "Elsewhere", link=link)
    response = web_client_for(me).post(f"/inbox/{notification.pk}")
    assert response.status_code == 302
    location = response["Location"]
    assert url_has_allowed_host_and_scheme(location, allowed_hosts={"testserver"}), location
    assert location.startswith("/"), location
    assert not location.startswith(("//", "/\\")), location


def test_opening_someone_elses_notification_is_not_found_and_marks_nothing(
    cast: Cast,
) -> None:
    theirs = _tell(cast.officer_a2.user, "Theirs", link=f"{SITE}/me/")
    for user in (cast.officer_a1.user, cast.supervisor_a, cast.oh1, cast.admin):
        assert web_client_for(user).post(f"/inbox/{theirs.pk}").status_code == 404
        assert web_client_for(user).post(
            "/inbox/read", {"notification": theirs.pk}
        ).status_code == (404)
    assert web_client_for(cast.officer_a1.user).post("/inbox/999999").status_code == 404
    assert web_client_for(cast.officer_a1.user).post(
        "/inbox/read", {"notification": "x"}
    ).status_code == (404)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_one_read_then_all_keeps_the_first_read_time(cast: Cast, clock) -> None:
    me = cast.oh1
    one, two, three = (_tell(me, name) for name in ("One", "Two", "Three"))
    someone_elses = _tell(cast.oh2, "Not mine")
    client = web_client_for(me)

    first_read = clock.now()
    response = client.post("/inbox/read", {"notification": two.pk})
    assert response.status_code == 302
    assert response["Location"] == "/inbox"
    assert [n.read_at for n in _fresh(one, two, three)] == [None, first_read, None]

    clock.advance(hours=1)
    client = web_client_for(me)
    later = clock.now()
    response = client.post("/inbox/read")
    assert response.status_code == 302
    assert "2 marked as read." in client.get("/inbox").content.decode()
    assert [n.read_at for n in _fresh(one, two, three)] == [later, first_read, later]

    clock.advance(hours=1)
    client = web_client_for(me)
    client.post("/inbox/read", {"notification": one.pk})
    client.post(f"/inbox/{two.pk}")
    client_for(me).post(f"/api/v1/notifications/{three.pk}/read")
    client.post("/inbox/read")
    assert "Nothing unread." in client.get("/inbox").content.decode()
    assert [n.read_at for n in _fresh(one, two, three)] == [later, first_read, later]
    assert _fresh(someone_elses)[0].read_at is None


def _fresh(*notifications: Notification) -> list[Notification]:
    for n in notifications:
        n.refresh_from_db()
    return list(notifications)


def test_show_unread_lists_only_the_unread(cast: Cast, clock) -> None:
    me = cast.officer_a1.user
    _tell(me, "Old news")
    clock.advance(minutes=1)
    _tell(me, "Fresh news")
    client = web_client_for(me)
    client.post("/inbox/read")
    clock.advance(minutes=1)
    _tell(me, "Breaking news")

    unread = client.get("/inbox?show=unread").content.decode()
    everything = client.get("/inbox").content.decode()

    assert _subjects(unread) == ["Breaking news"]
    assert _subjects(everything) == ["Breaking news", "Fresh news", "Old news"]
    assert 'href="/inbox">Show all</a>' in unread
    assert 'href="/inbox?show=unread">Show unread only</a>' in everything


def test_api_read_all_returns_the_count_and_marks_only_mine(cast: Cast, clock) -> None:
    me, other = cast.supervisor_a, cast.supervisor_b
    mine = [_tell(me, f"Mine {n}") for n in range(3)]
    theirs = [_tell(other, f"Theirs {n}") for n in range(2)]
    api = client_for(me)
    api.post(f"/api/v1/notifications/{mine[0].pk}/read")

    response = api.post("/api/v1/notifications/read-all")

    assert response.status_code == 200
    assert response.json() == {"marked": 2}
    assert all(n.read_at is not None for n in _fresh(*mine))
    assert all(n.read_at is None for n in _fresh(*theirs))
    assert api.post("/api/v1/notifications/read-all").json() == {"marked": 0}
    listed = api.get("/api/v1/notifications/?read_at__isnull=true").json()["results"]
    assert listed == []
    assert client_for(other).get("/api/v1/notifications/").json()["count"] == 2


def test_api_cannot_read_or_mark_someone_elses_notification(cast: Cast) -> None:
    theirs = _tell(cast.officer_a2.user, "Theirs")
    api = client_for(cast.officer_a1.user)
    assert api.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/v1/notifications/{theirs.pk}/read").status_code == 404
    assert _fresh(theirs)[0].read_at is None


def _inbox_queries(client, path: str) -> int:
    reset_queries()  # a full query log (9,000 entries) would count nothing
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    assert len(queries) > 0
    return len(queries)


def test_inbox_queries_do_not_grow_with_notifications(
    cast: Cast, clock, django_assert_max_num_queries
) -> None:
    me = cast.officer_a1.user
    for n in range(3):
        _tell(me, f"Few {n}", link=f"{SITE}/alerts/{n + 1}")
    client = web_client_for(me)
    client.get("/inbox")  # the session's first request settles it
    with django_assert_max_num_queries(11):
        few = _inbox_queries(client, "/inbox")
    for n in range(27):
        _tell(me, f"Many {n}", link=f"{SITE}/checkins/{n + 1}")
    with django_assert_max_num_queries(11):
        many = _inbox_queries(client, "/inbox")
    with django_assert_max_num_queries(11):
        unread = _inbox_queries(client, "/inbox?show=unread")
    assert many == few
    assert unread == few
    assert len(_subjects(client.get("/inbox").content.decode())) == 30
