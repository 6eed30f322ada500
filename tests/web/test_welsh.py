"""The officer's pages in Welsh, chosen per person: the catalogue is complete and its
compiled form is in step with it; the pages, their headline and the timer's words switch;
the API and other people's pages stay as they were."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from tests.alerts.test_sweeps_in_bulk import log_minutes
from tests.conftest import Cast, client_for, web_client_for
from welfare.audit.models import AuditEvent

LOCALE = Path(__file__).resolve().parents[2] / "welfare" / "locale" / "cy" / "LC_MESSAGES"


def catalogue() -> dict[str, str]:
    """msgid -> msgstr from the .po file (plain entries: the catalogue has no plurals)."""
    text = LOCALE.joinpath("django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    entries = {}
    for block in text.split("\n\n")[1:]:
        msgid = re.search(r'^msgid ((?:".*"\n)+)', block + "\n", re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        assert msgid, block
        assert msgstr, block

        def join(raw: str) -> str:
            return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', raw)).replace('\\"', '"')

        entries[join(msgid.group(1))] = join(msgstr.group(1))
    return entries


def test_the_catalogue_is_complete_and_compiled() -> None:
    entries = catalogue()
    assert len(entries) > 100
    assert all(entries.values()), [k for k, v in entries.items() if not v]
    with LOCALE.joinpath("django.mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    for msgid, msgstr in entries.items():
        assert mo.gettext(msgid) == msgstr, f"django.mo is older than django.po: {msgid!r}"
    # Placeholders survive translation.
    for msgid, msgstr in entries.items():
        assert sorted(re.findall(r"\{\w+\}|%\(\w+\)s", msgid)) == sorted(
            re.findall(r"\{\w+\}|%\(\w+\)s", msgstr)
        ), msgid


def test_an_officer_switches_to_welsh_and_back(cast: Cast, clock) -> None:
    clock.set(clock.now().replace(hour=20, minute=0, second=0, microsecond=0))
    log_minutes(cast.officer_a1, clock.now().replace(hour=7), 310)
    client = web_client_for(cast.officer_a1.user)
    assert 'lang="en-GB"' in client.get("/me/").content.decode()
    switched = client.post("/language", {"language": "cy", "next": "/me/"})
    assert switched["Location"] == "/me/"
    cast.officer_a1.user.refresh_from_db()
    assert cast.officer_a1.user.language == "cy"
    assert AuditEvent.objects.filter(action="user.language_set").exists()
    page = client.get("/me/")
    text = page.content.decode()
    assert page["Content-Language"] == "cy"
    assert '<html lang="cy">' in text
    assert "<h1>Fy wythnos</h1>" in text
    assert "Dros y terfyn: Heddiw: 310 o 300 munud" in text  # the headline, from the rules
    assert 'data-t-viewing="Yn gwylio"' in text  # the timer's words
    english = [m for m in catalogue() if len(m) > 12 and "{" not in m and "%(" not in m]
    assert not [m for m in english if m in text], "untranslated on the page"
    assert "Pwy agorodd fy nghofnod" in client.get("/me/records").content.decode()
    api = client_for(cast.officer_a1.user).get(
        f"/api/v1/officers/{cast.officer_a1.pk}/exposure-summary"
    )
    assert api.status_code == 200
    assert api["Content-Language"] == "en-gb"
    client.post("/language", {"language": "en-gb"})
    assert "<h1>My week</h1>" in client.get("/me/").content.decode()


def test_an_unknown_language_is_refused_and_changes_nothing(cast: Cast) -> None:
    client = web_client_for(cast.officer_a1.user)
    page = client.post("/language", {"language": "fr", "next": "/me/"}, follow=True)
    assert "Choose English or Cymraeg." in page.content.decode()
    cast.officer_a1.user.refresh_from_db()
    assert cast.officer_a1.user.language == "en-gb"
