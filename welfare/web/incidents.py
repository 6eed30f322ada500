"""Recording a distressing piece of work (an incident) from the officer's page and for a
supervisor's officers, and what each page shows of incidents. The rules and the writes are
the check-ins app's, validated with the API's serializer: no second copy of any rule.

A supervisor's pages never show an incident's category: only that follow-ups are due. The
supervisor's form (which lists the categories to choose from) is a page of its own, so the
unit's page never carries a category at all."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from welfare.checkins.api import IncidentInput
from welfare.checkins.models import Incident, IncidentCategory
from welfare.checkins.selectors import incidents_visible_to
from welfare.checkins.services import incident_record
from welfare.core import clock
from welfare.core.errors import DomainError
from welfare.core.roles import Role
from welfare.people.models import Officer
from welfare.people.selectors import officer_get_for_user, officer_of_user, officers_visible_to
from welfare.web.auth import me, page

FORM_INCOMPLETE = "The form was incomplete: reload the page and try again."
CHOOSE_OFFICER = "Officer: choose the officer it is about."
RECORDED_ALREADY = "That was recorded already."
LABELS = {"occurred_on": "Date of the work", "category": "What made it distressing"}


def friendly(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def incident_form(*, officers: list[Officer] | None = None, chosen: str = "") -> dict[str, Any]:
    """What the form needs: a fresh client_ref (a resent form records nothing twice), the
    categories, the dates allowed, and for a supervisor the officers to choose from."""
    today = clock.today()
    return {
        "client_ref": uuid.uuid4(),
        "categories": IncidentCategory.choices,
        "latest": today,
        "earliest": today - timedelta(days=settings.INCIDENT_MAX_AGE_DAYS),
        "max_age": settings.INCIDENT_MAX_AGE_DAYS,
        "days": settings.INCIDENT_FOLLOW_UP_DAYS,
        "officers": officers,
        "chosen": chosen,
    }


def recent_incidents(user: Any, *, officer: Officer | None = None) -> list[Incident]:
    """Incidents the user may see with their category (the officer's own; OH's per case)."""
    incidents = incidents_visible_to(user)
    if officer is not None:
        incidents = incidents.filter(officer=officer)
    return list(incidents.select_related("reported_by")[:50])


def _flash_problems(request: HttpRequest, problems: dict[str, Any]) -> None:
    """Field problems as the page's error messages, each naming its field as the form does."""
    for field, texts in problems.items():
        for text in texts if field in LABELS else []:
            messages.error(request, f"{LABELS[field]}: {text}")
    # The hidden client_ref: a page from before, or a form tampered with.
    if set(problems) - set(LABELS):
        messages.error(request, FORM_INCOMPLETE)


def _record(request: HttpRequest, officer: Officer) -> bool:
    """Record the posted incident for `officer`; flash what happens next, or the problems."""
    data = IncidentInput(
        data={
            "occurred_on": request.POST.get("occurred_on", ""),
            "category": request.POST.get("category", ""),
            "client_ref": request.POST.get("client_ref", ""),
        }
    )
    if not data.is_valid():
        _flash_problems(request, {k: [str(m) for m in v] for k, v in data.errors.items()})
        return False
    try:
        result = incident_record(actor=me(request), officer=officer, **data.validated_data)
    except DomainError as refused:
        body = refused.body()
        if "detail" in body:
            messages.error(request, str(body["detail"]))
        else:
            _flash_problems(request, body)
        return False
    dates = " and ".join(friendly(c.due_on) for c in result.follow_ups)
    if not result.created:
        messages.info(request, RECORDED_ALREADY)
    if result.incident.officer.user_id == me(request).pk:
        messages.success(
            request,
            f"Recorded. Follow-up contacts are due on {dates}: occupational health or your "
            "unit's TRiM practitioner will be in touch. Your supervisor sees only that "
            "follow-ups are due, never what it was about.",
        )
    else:
        messages.success(
            request,
            f"Recorded for {officer.display_name}. Follow-up contacts with occupational health "
            f"or the unit's TRiM practitioner are due on {dates}; the officer and occupational "
            "health are told. From now on you see only that follow-ups are due.",
        )
    return True


@page({Role.OFFICER})
@require_POST
def officer_incident(request: HttpRequest) -> HttpResponse:
    officer = officer_of_user(request.user)
    if officer is None:
        raise Http404
    _record(request, officer)
    return HttpResponseRedirect(reverse("web:officer-home") + "#incident")


@page({Role.SUPERVISOR})
@require_http_methods(["GET", "POST"])
def supervisor_incident(request: HttpRequest) -> HttpResponse:
    """A supervisor records a distressing piece of work for an officer of their units."""
    chosen = request.POST.get("officer", "") or request.GET.get("officer", "")
    if request.method == "POST":
        if not chosen:
            messages.error(request, CHOOSE_OFFICER)
        elif _record(request, officer_get_for_user(request.user, chosen)):
            return HttpResponseRedirect(reverse("web:supervisor-home"))
        url = reverse("web:supervisor-incident")
        return HttpResponseRedirect(f"{url}?officer={chosen}" if chosen.isdigit() else url)
    officers = list(officers_visible_to(request.user).order_by("display_name"))
    return render(
        request,
        "web/supervisor_incident.html",
        {"form": incident_form(officers=officers, chosen=chosen)},
    )
