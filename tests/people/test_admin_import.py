"""The admin site's import page: administrators with a verified code only; preview, then
apply the same file; values are shown escaped, never as markup."""

from __future__ import annotations

import io

import pytest

from tests.conftest import Cast, web_client_for
from tests.people.test_api_import import BAD, GOOD, as_csv, as_xlsx, stored
from welfare.accounts.models import User
from welfare.people.admin import IMPORT_DONE
from welfare.people.models import Unit
from welfare.people.services import IMPORT_FILE_CHANGED

URL = "/admin/people/import/"


def upload(client, content: bytes, name: str = "people.csv", **fields: str):
    file = io.BytesIO(content)
    file.name = name
    return client.post(URL, {"file": file, **fields}, follow=False)


@pytest.mark.parametrize("who", ["officer", "supervisor", "oh", "hr"])
def test_other_roles_are_sent_to_the_admin_log_in(cast: Cast, who: str) -> None:
    client = web_client_for(cast.user(who))
    for response in (client.get(URL), upload(client, as_csv(GOOD))):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert not Unit.objects.filter(name="Unit C").exists()


def test_anonymous_and_unverified_admins_are_sent_to_log_in(cast: Cast) -> None:
    for client in (web_client_for(None), web_client_for(cast.admin, verified=False)):
        response = client.get(URL)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_admin_home_links_to_the_import(cast: Cast) -> None:
    response = web_client_for(cast.admin).get("/admin/")
    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()


@pytest.mark.parametrize(("make", "name"), [(as_csv, "people.csv"), (as_xlsx, "people.xlsx")])
def test_preview_then_apply_the_same_file(cast: Cast, make, name: str) -> None:
    client = web_client_for(cast.admin)
    assert client.get(URL).status_code == 200
    before = stored()
    shown = upload(client, make(GOOD), name)
    assert shown.status_code == 200
    page = shown.content.decode()
    assert "5 created, 3 changed, 1 unchanged, 0 rejected" in page
    assert stored() == before
    report = shown.context["report"]
    done = upload(
        client,
        make(GOOD),
        name,
        apply="Apply",
        sha256=report["sha256"],
        plan_sha256=report["plan_sha256"],
    )
    assert done.status_code == 200
    assert IMPORT_DONE.format(created=5, changed=3, unchanged=1, rejected=0) in (
        done.content.decode()
    )
    assert User.objects.filter(username="new.officer", is_active=True).exists()


def test_apply_with_another_file_changes_nothing(cast: Cast) -> None:
    client = web_client_for(cast.admin)
    report = upload(client, as_csv(GOOD)).context["report"]
    before = stored()
    refused = upload(
        client,
        as_csv(GOOD[:2]),
        apply="Apply",
        sha256=report["sha256"],
        plan_sha256=report["plan_sha256"],
    )
    assert IMPORT_FILE_CHANGED in refused.content.decode()
    assert stored() == before


def test_rejected_rows_are_listed_with_their_reasons_and_no_apply_button(cast: Cast) -> None:
    page = upload(web_client_for(cast.admin), as_csv(BAD)).content.decode()
    assert "5 rejected" in page
    assert "Not a date: use YYYY-MM-DD." in page
    assert 'name="apply"' not in page


def test_values_are_escaped_on_the_page(cast: Cast) -> None:
    rows = [{"kind": "unit", "unit": "<script>alert(1)</script>", "unit_kind": "other"}]
    page = upload(web_client_for(cast.admin), as_csv(rows)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
