"""Pages every notification link opens, the inbox, and "get help now".

A notification's link names an item (`/alerts/{id}`, `/checkins/{id}`, `/reports/{id}`,
`/oh/cases/{id}`); each page here shows the item to whoever may see it, through the same
selectors as the API, and what they can do about it. Anyone else gets the same 404 as for
an item that does not exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from welfare.accounts import services as accounts
from welfare.accounts.models import NotifyBy
from welfare.alerts import services as alert_services
from welfare.alerts.models import AlertKind
from welfare.alerts.selectors import alert_get_for_user, notifications_of
from welfare.casework import rules as case_rules
from welfare.casework import services as casework
from welfare.casework.models import ReportState
from welfare.casework.selectors import (
    case_owner_of,
    clinicians,
    queue_item,
    reports_visible_to,
)
from welfare.checkins import instruments
from welfare.checkins.models import OPEN_STATUSES, Kind, Outcome
from welfare.checkins.selectors import checkin_get_for_user
from welfare.core import clock
from welfare.core.db import get_or_404
from welfare.core.errors import DomainError
from welfare.core.roles import ALL_ROLES, DIGEST_ROLES, Role
from welfare.exposure.models import Material
from welfare.people.api import MeUpdateInput
from welfare.people.models import RotationDecision
from welfare.web.auth import me, page


def local_path(link: str) -> str:
    """A notification's link as a path on this site (links carry SITE_URL; only the path and
    query are followed, so a link can never lead off the site)."""
    parts = urlsplit(link)
    if not parts.path.startswith("/") or parts.path.startswith(("//", "/\\")):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- Get help now -----------------------------------------------------------------------------


@require_GET
def help_view(request: HttpRequest) -> HttpResponse:
    """Where to get help now. Open to anyone, signed in or not, and works without JavaScript."""
    return render(
        request,
        "web/help.html",
        {"support": casework.support_info(answered=False), "officer": _is_officer(request)},
    )


def _is_officer(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and getattr(user, "role", None) == Role.OFFICER)


# --- Inbox ------------------------------------------------------------------------------------


@page(ALL_ROLES)
def inbox(request: HttpRequest) -> HttpResponse:
    rows = notifications_of(request.user).order_by("-created_at", "-id")
    if request.GET.get("show") == "unread":
        rows = rows.filter(read_at__isnull=True)
    notifications = Paginator(rows, 50).get_page(request.GET.get("page"))
    items = [{"n": n, "path": local_path(n.link)} for n in notifications]
    user = me(request)
    return render(
        request,
        "web/inbox.html",
        {
            "notifications": notifications,
            "items": items,
            "show": request.GET.get("show", ""),
            "chooses": user.role in DIGEST_ROLES,
            "notify_by": user.notify_by,
            "digest_hour": f"{settings.NOTIFICATION_DIGEST_HOUR:02d}:00",
        },
    )


NOTIFY_BY_SAVED = {
    NotifyBy.DIGEST: "Saved: messages that are not urgent come in one e-mail a day.",
    NotifyBy.IMMEDIATE: "Saved: every message is e-mailed as it arrives.",
}


@page(DIGEST_ROLES)
@require_POST
def inbox_settings(request: HttpRequest) -> HttpResponse:
    """A supervisor or clinician chooses how notifications are e-mailed (as `PATCH /me`)."""
    data = MeUpdateInput(data={"notify_by": request.POST.get("notify_by", "")})
    if not data.is_valid():
        messages.error(request, "Choose how you want to be e-mailed.")
        return HttpResponseRedirect(reverse("web:inbox"))
    try:
        accounts.user_notify_by_set(user=me(request), notify_by=data.validated_data["notify_by"])
    except DomainError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, NOTIFY_BY_SAVED[data.validated_data["notify_by"]])
    return HttpResponseRedirect(reverse("web:inbox"))


@page(ALL_ROLES)
@require_POST
def inbox_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link from the inbox: it is marked read on the way (a POST: a
    GET never changes anything, whoever or whatever prefetches the link)."""
    notification = get_or_404(notifications_of(request.user), notification_id)
    alert_services.notifications_mark_read(user=me(request), ids=[notification.pk])
    return HttpResponseRedirect(local_path(notification.link) or reverse("web:inbox"))


@page(ALL_ROLES)
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (`notification`), or all of them."""
    raw = request.POST.get("notification", "")
    ids = None
    if raw:
        ids = [get_or_404(notifications_of(request.user), raw).pk]
    marked = alert_services.notifications_mark_read(user=me(request), ids=ids)
    if ids is None:
        messages.success(request, f"{marked} marked as read." if marked else "Nothing unread.")
    return HttpResponseRedirect(reverse("web:inbox"))


# --- An alert ---------------------------------------------------------------------------------


@page({Role.OFFICER, Role.SUPERVISOR, Role.OH})
def alert_page(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_get_for_user(request.user, alert_id)
    role = me(request).role
    context: dict[str, Any] = {"alert": alert, "role": role, "detail": alert.detail}
    if alert.kind == AlertKind.EXPOSURE_LIMIT and alert.occurrences > 1:
        context["history"] = list(alert.occurrence_rows.order_by("on", "id"))
    if role == Role.OH:
        context.update(
            reason=case_rules.describe(queue_item(alert), clock.now()),
            owner=case_owner_of(alert.officer_id),
            clinicians=list(clinicians()),
            flags=[case_rules.FLAG_WORDS.get(f, f) for f in alert.detail.get("flags", [])],
        )
    if alert.kind == AlertKind.ROTATION_DUE and role in (Role.SUPERVISOR, Role.OH):
        context["decisions"] = RotationDecision.choices
    return render(request, "web/alert.html", context)


# --- A check-in -------------------------------------------------------------------------------


@page({Role.OFFICER, Role.SUPERVISOR, Role.OH})
def checkin_page(request: HttpRequest, checkin_id: int) -> HttpResponse:
    checkin = checkin_get_for_user(request.user, checkin_id)
    role = me(request).role
    context: dict[str, Any] = {"checkin": checkin, "role": role, "open": checkin.is_open}
    if role == Role.OFFICER and checkin.is_open:
        answered = set(checkin.screenings.values_list("instrument", flat=True))
        context["instruments"] = [
            {"instrument": i, "answered": i.key in answered} for i in instruments.available()
        ]
    if role == Role.OH and (checkin.referral_note or checkin.adjustments or checkin.cancel_reason):
        casework.record_read(  # as the API: OH reading a check-in's clinical text is audited
            actor=me(request),
            action="checkin.read",
            officer_id=checkin.officer_id,
            detail={"checkins": [checkin.pk]},
        )
    if role == Role.OH:
        context.update(
            outcomes=Outcome.choices,
            materials=Material.choices,
            self_referral=checkin.kind == Kind.SELF_REFERRAL,
        )
    return render(request, "web/checkin.html", context)


# --- A report ---------------------------------------------------------------------------------


@page({Role.OFFICER, Role.SUPERVISOR, Role.OH})
def report_page(request: HttpRequest, report_id: int) -> HttpResponse:
    report = get_or_404(reports_visible_to(request.user), report_id)
    role = me(request).role
    if role in {Role.SUPERVISOR, Role.OH}:  # as the API: a read of a report is audited
        casework.record_read(
            actor=me(request),
            action="report.read",
            officer_id=report.officer_id,
            detail={"report": report.pk},
        )
    return render(
        request,
        "web/report.html",
        {"report": report, "role": role, "states": ReportState, "open_statuses": OPEN_STATUSES},
    )
