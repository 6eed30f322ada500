"""Server-rendered pages for each kind of user, over the same selectors and services as the
API (and the API's serializers for validation): no second copy of any rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from welfare.accounts import services as accounts
from welfare.accounts.models import GrantKind, SealedTOTPDevice
from welfare.accounts.selectors import pending_grants, role_grants_visible_to
from welfare.accounts.sso import configured as sso_configured
from welfare.alerts import rules as alert_rules
from welfare.alerts import services as alert_services
from welfare.alerts.api import AlertFilter, RotationReviewInput
from welfare.alerts.models import SUPERVISOR_KINDS, AlertKind, AlertStatus
from welfare.alerts.selectors import (
    alert_get_for_user,
    alerts_by_officer,
    alerts_visible_to,
    unresolved_alert_counts,
)
from welfare.casework import rules as case_rules
from welfare.casework import services as casework
from welfare.casework.models import ReportState
from welfare.casework.selectors import (
    QUEUE_SCOPES,
    access_log_of,
    case_officer,
    case_owner_of,
    case_parts,
    cases_for,
    clinicians,
    queue_item,
    reports_visible_to,
    weekly_exposure,
    work_queue,
)
from welfare.checkins import instruments
from welfare.checkins import services as checkin_services
from welfare.checkins.api import BookInput, CompleteInput
from welfare.checkins.instruments import base as instrument_words
from welfare.checkins.models import OPEN_STATUSES, CheckIn, Outcome, Screening
from welfare.checkins.selectors import checkin_get_for_user, checkins_visible_to, own_checkins
from welfare.core import clock
from welfare.core.db import get_or_404
from welfare.core.errors import DomainError, Forbidden, NotFound
from welfare.core.roles import Role
from welfare.exposure import rules as exposure_rules
from welfare.exposure import services as exposure_services
from welfare.exposure.api import ExposureInput, import_payload, parse_csv
from welfare.exposure.models import Activity, Category, Material
from welfare.exposure.selectors import (
    exposure_summary,
    exposures_visible_to,
    limit_states,
    media_minutes_on,
    restrictions_in_force,
    restrictions_visible_to,
    weekly_minutes,
)
from welfare.people.models import Officer, Posting, RotationDecision
from welfare.people.selectors import officer_of_user, officers_visible_to
from welfare.stats import api as stats_api
from welfare.stats import rules as stats_rules
from welfare.stats.renderers import CSVRenderer, XLSXRenderer, export_headers
from welfare.web import charts
from welfare.web.auth import (
    SESSION_STARTED,
    home_url,
    me,
    needs_second_factor,
    page,
    safe_next,
    second_factor_verified,
    session_expired,
)
from welfare.web.incidents import incident_form, recent_incidents
from welfare.web.passkeys import passkey_step_start
from welfare.web.words import stat_words

LOGIN_REFUSED = "Those details did not work. Check them and try again."


# What a form's fields are called on the pages, for messages about them.
FIELD_WORDS = {
    "started_at": "Start",
    "ended_at": "End",
    "items_reviewed": "Items reviewed",
    "next_review_on": "Next review",
    "rotate_by": "Rotate by",
    "booked_for": "Booked for",
    "otp": "Code",
    "non_field_errors": "",
}


def _problems(error: DomainError) -> list[str]:
    """A refusal as sentences for the page: each message under its field's label (as the
    form shows it), never the code's name for the field."""
    body = error.body()
    if "detail" in body:
        return [str(body["detail"])]
    problems = []
    for field, texts in body.items():
        label = FIELD_WORDS.get(field, field.replace("_", " ").capitalize())
        problems += [f"{label}: {message}" if label else str(message) for message in texts]
    return problems


def _field_errors(errors: Any) -> dict[str, list[str]]:
    """A serializer's errors as field -> messages (nested ones flattened to text)."""
    return {
        str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()
    }


def _flash_problems(request: HttpRequest, problems: list[str]) -> None:
    for problem in problems:
        messages.error(request, problem)


# --- Signing in -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            checked = accounts.authenticate_credentials(
                username=request.POST.get("username", "").strip(),
                password=request.POST.get("password", ""),
                otp=request.POST.get("otp", "").strip() or None,
                passkey_next=True,
            )
        except DomainError as refused:
            shown = {"locked", "otp_reused", "password_login_off", "passkey_required"}
            error = refused.message if refused.code in shown else LOGIN_REFUSED
        else:
            user = checked.user
            if checked.passkey_pending:
                return passkey_step_start(request, user, safe_next(request, ""))
            login(request, user, backend="welfare.accounts.backends.RoleBackend")  # rotates the key
            if checked.device is not None:
                django_otp.login(request, checked.device)
            request.session[SESSION_STARTED] = clock.now().timestamp()
            if user.needs_two_factor and checked.device is None:
                return HttpResponseRedirect(reverse("web:enrol"))
            return HttpResponseRedirect(safe_next(request, home_url(user)))
    status = 401 if error else 200
    return render(
        request,
        "web/login.html",
        {
            "error": error,
            "next": request.GET.get("next", ""),
            "sso_name": settings.OIDC_DISPLAY_NAME if sso_configured() else "",
        },
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("web:login"))


@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: show a code to scan, confirm it with a code from it."""
    user = request.user
    if not user.is_authenticated:
        return HttpResponseRedirect(reverse("web:login"))
    verified = second_factor_verified(request)
    error = ""
    if request.method == "POST" and request.POST.get("start"):
        # A new secret is a change, so it is made on a POST only, never by opening the page.
        accounts.otp_device_start(user=user, verified=verified, name="Authenticator")
        return HttpResponseRedirect(reverse("web:enrol"))
    if request.method == "POST":
        try:
            device = accounts.otp_device_confirm(
                user=user,
                device_id=int(request.POST.get("device", "0") or 0),
                otp=request.POST.get("otp", "").strip(),
            )
        except (DomainError, ValueError) as refused:
            error = (
                _problems(refused)[0]
                if isinstance(refused, DomainError)
                else "Enter the 6-digit code."
            )
        else:
            request.session.cycle_key()
            django_otp.login(request, device)
            messages.success(request, "Your authenticator app is set up.")
            return HttpResponseRedirect(home_url(user))
    has_device = accounts.has_second_factor(user)
    if has_device and not verified:
        logout(request)
        messages.error(request, "Sign in with a code from your authenticator app, or your passkey.")
        return HttpResponseRedirect(reverse("web:login"))
    pending = SealedTOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    # omitsize: a viewBox and no fixed size, so the page's CSS scales it without clipping;
    # border: the quiet zone of four modules that scanners need.
    qr = (
        segno.make(pending.config_url, error="m").svg_inline(
            scale=5, border=4, omitsize=True, title="Authenticator set-up code", light="#fff"
        )
        if pending is not None
        else ""
    )
    return render(
        request,
        "web/enrol.html",
        {
            "device": pending,
            "qr": qr,
            "url": pending.config_url if pending is not None else "",
            "key": accounts.otp_key_for_typing(pending) if pending is not None else "",
            "error": error,
            "has_device": has_device,
        },
    )


@require_http_methods(["GET", "POST"])
def password_view(request: HttpRequest) -> HttpResponse:
    """Choose a new password: required after signing in with a temporary one from an OH
    lead (and after enrolling a device, for the roles that need one)."""
    user = request.user
    if not user.is_authenticated or session_expired(request):
        return HttpResponseRedirect(reverse("web:login"))
    if needs_second_factor(request):
        return HttpResponseRedirect(reverse("web:enrol"))
    problems: list[str] = []
    if request.method == "POST":
        try:
            accounts.password_change(
                user=me(request),
                token=None,
                current_password=request.POST.get("current_password", "")[:1024],
                new_password=request.POST.get("new_password", "")[:1024],
            )
        except DomainError as refused:
            problems = _problems(refused)
        else:
            update_session_auth_hash(request, me(request))
            messages.success(request, "Your password is changed.")
            return HttpResponseRedirect(home_url(user))
    must = bool(getattr(user, "password_must_change", False))
    return render(
        request,
        "web/password.html",
        {"problems": problems, "must_change": must},
        status=400 if problems else 200,
    )


@page(set(Role))
@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the pages between English and Welsh, for this person, from any page."""
    try:
        accounts.user_language_set(user=me(request), language=request.POST.get("language", ""))
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    return HttpResponseRedirect(safe_next(request, home_url(request.user)))


def home_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(reverse("web:login"))
    return HttpResponseRedirect(home_url(request.user))


# --- Officer --------------------------------------------------------------------------


def _bar(limit: Any) -> dict[str, Any]:
    percent = 0 if not limit.limit else min(100, round(100 * limit.used / limit.limit))
    return {
        "rule": limit.rule,
        "used": limit.used,
        "limit": limit.limit,
        "state": limit.state,
        "state_words": _(exposure_rules.STATE_WORDS.get(limit.state, limit.state)),
        "words": exposure_rules.limit_in_words(limit, say=_),
        "percent": percent,
        "source": limit.source,
        "unit": limit.unit,
    }


@page({Role.OFFICER})
def officer_home(request: HttpRequest) -> HttpResponse:
    officer = officer_of_user(request.user)
    if officer is None:
        return render(
            request, "web/error.html", {"title": "No officer record", "status": 404}, status=404
        )
    today = clock.today()
    summary = exposure_summary(officer, on=today)
    limits = {limit.rule: limit for limit in summary.limits}
    bars = [
        {**_bar(limits[rule]), "label": _(exposure_rules.LIMIT_NAMES[rule])}
        for rule in ("daily_minutes", "week_minutes", "rolling_28d_minutes")
        if rule in limits
    ]
    others = [
        _bar(limit)
        for limit in summary.limits
        if limit.rule not in {"daily_minutes", "week_minutes", "rolling_28d_minutes"}
    ]
    policy_break = next(
        (limit for limit in summary.limits if limit.rule == "break_after_minutes"), None
    )
    day_limit = limits.get("daily_minutes")
    checkins = list(own_checkins(request.user).filter(status__in=OPEN_STATUSES))
    worst = {s.state for s in summary.limits}
    context = {
        "officer": officer,
        "summary": summary,
        "headline": exposure_rules.headline(summary.limits, say=_),
        "headline_state": next((s for s in ("breach", "warning") if s in worst), "ok"),
        "bars": bars,
        "others": others,
        "sessions": exposures_visible_to(request.user).order_by("-started_at")[:10],
        "checkins": checkins,
        "instruments": instruments.available(),
        "reports": reports_visible_to(request.user).exclude(state=ReportState.DRAFT),
        "client_ref": uuid.uuid4(),
        "break_after": int(policy_break.limit) if policy_break else 60,
        "break_minutes": round(summary.break_minutes),
        "day_remaining": max(0, int(day_limit.warning_at - day_limit.used)) if day_limit else "",
        "materials": Material.choices,
        "categories": Category.choices,
        "activities": Activity.choices,
        "self_referral_open": any(c.kind == "self_referral" for c in checkins),
        "incident_form": incident_form(),
        "incidents": recent_incidents(request.user)[:10],
    }
    return render(request, "web/officer_home.html", context)


def _aware(value: str) -> str:
    """A timer's ISO instant passes through; a local date-time from a form gets the force's zone."""
    parsed = parse_datetime(value) if value else None
    if parsed is not None and parsed.tzinfo is None:
        return parsed.replace(tzinfo=clock.local_zone()).isoformat()
    return value


@page({Role.OFFICER})
@require_POST
def officer_log(request: HttpRequest) -> HttpResponse:
    """Log the timer's viewing (each stretch between breaks is a session), or a typed-in one.
    The page's client_ref makes a double click or a resent form log nothing twice."""
    officer = officer_of_user(request.user)
    if officer is None:
        raise Http404
    try:
        base = uuid.UUID(request.POST.get("client_ref", ""))
    except ValueError:
        messages.error(request, _("The form was incomplete: reload the page and try again."))
        return HttpResponseRedirect(reverse("web:officer-home"))
    try:
        segments = json.loads(request.POST.get("segments") or "[]")
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's reach
        segments = []
    if not isinstance(segments, list):
        segments = []
    if not segments:
        segments = [
            [_aware(request.POST.get("started_at", "")), _aware(request.POST.get("ended_at", ""))]
        ]
    logged = 0
    try:
        values = []
        for segment in segments[:20]:
            started, ended = [*segment, "", ""][:2] if isinstance(segment, list) else ("", "")
            data = ExposureInput(
                data={
                    "started_at": started,
                    "ended_at": ended,
                    "material": request.POST.get("material", ""),
                    "category": request.POST.get("category", ""),
                    "violent": request.POST.get("violent") == "on",
                    "items_reviewed": request.POST.get("items_reviewed") or None,
                    "activity": request.POST.get("activity", ""),
                    "note": request.POST.get("note", ""),
                    "client_ref": str(base),
                }
            )
            if not data.is_valid():
                raise DomainError(fields={k: [str(m) for m in v] for k, v in data.errors.items()})
            values.append(dict(data.validated_data))
        # The timer's pauses shorter than a break are part of the stretch: one session.
        pause = exposure_summary(officer, on=clock.today()).break_minutes
        spans = exposure_rules.timer_sessions(
            [(v["started_at"], v["ended_at"]) for v in values],
            pause,
            longest=timedelta(hours=settings.EXPOSURE_MAX_SESSION_HOURS),
        )
        with transaction.atomic():
            for index, (started_at, ended_at) in enumerate(spans):
                result = exposure_services.exposure_log(
                    officer=officer,
                    recorded_by=me(request),
                    **{
                        **values[0],
                        "started_at": started_at,
                        "ended_at": ended_at,
                        "client_ref": uuid.uuid5(base, str(index)),
                    },
                )
                logged += result.created
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(
            request, _("Session logged.") if logged else _("That session was logged already.")
        )
    return HttpResponseRedirect(reverse("web:officer-home"))


@page({Role.OFFICER})
@require_POST
def officer_self_refer(request: HttpRequest) -> HttpResponse:
    try:
        checkin_services.self_refer(user=me(request), note=request.POST.get("note", "")[:1000])
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(
            request, "Occupational health will contact you. Your supervisor is not told."
        )
    return HttpResponseRedirect(reverse("web:officer-home"))


# Not in the request's transaction: the service's own is the real one, so that a
# screening with a critical answer that cannot be committed is still answered with support.
@transaction.non_atomic_requests
@page({Role.OFFICER})
@require_http_methods(["GET", "POST"])
def officer_screening(request: HttpRequest, checkin_id: int, key: str) -> HttpResponse:
    """A questionnaire for one of the officer's open check-ins."""
    checkin = checkin_get_for_user(request.user, checkin_id)
    if checkin.status not in OPEN_STATUSES:
        raise Http404
    return _questionnaire(request, key, checkin)


@page({Role.OFFICER})
def self_check(request: HttpRequest) -> HttpResponse:
    """The questionnaires an officer may take at any time, and their results so far."""
    results = Screening.objects.filter(officer__user=me(request)).order_by("-submitted_at")
    return render(
        request,
        "web/self_check.html",
        {"instruments": instruments.available(), "results": results[:20]},
    )


@transaction.non_atomic_requests  # as officer_screening
@page({Role.OFFICER})
@require_http_methods(["GET", "POST"])
def self_check_form(request: HttpRequest, key: str) -> HttpResponse:
    return _questionnaire(request, key, None)


def _questionnaire(request: HttpRequest, key: str, checkin: CheckIn | None) -> HttpResponse:
    """Answer a questionnaire (for a check-in, or a self-check); after it, the result, the
    support message at once when an answer is critical, and the next questionnaires."""
    instrument = instruments.get(key)
    if instrument is None:
        raise Http404
    result = None
    support = None
    status = 200
    if request.method == "POST":
        answers: list[Any] = []
        for n in range(1, instrument.item_count + 1):
            raw = request.POST.get(f"item{n}", "")
            answers.append(int(raw) if raw.isdigit() else raw)
        try:
            result = casework.screening_submit(
                actor=me(request), checkin=checkin, instrument_key=key, answers=answers
            )
        except casework.ScreeningNotSaved as failed:
            messages.error(request, failed.message)
            support = casework.support_info(saved=False)
            status = 503
        except (Forbidden, NotFound):
            raise  # the page decorator answers them, as for any page
        except DomainError as refused:
            _flash_problems(request, _problems(refused))
            status = 400
        else:
            if instrument.critical(result.flags):
                support = casework.support_info(contact_by=casework.screening_contact_by(result))
    answered = set(
        Screening.objects.filter(checkin=checkin).values_list("instrument", flat=True)
        if checkin is not None
        else [key]
        if result is not None
        else []
    )
    following = [i for i in instruments.available() if i.key not in answered and i.key != key]
    context = {
        "checkin": checkin,
        "instrument": instrument,
        "items": list(enumerate(instrument.items, start=1)),
        "options": list(enumerate(instrument.options, start=instrument.low)),
        "result": result,
        "support": support,
        "following": following,
    }
    return render(request, "web/screening.html", context, status=status)


@page({Role.OFFICER})
@require_POST
def officer_report_action(request: HttpRequest, report_id: int, action: str) -> HttpResponse:
    if action not in {"consent", "decline", "withdraw"}:
        raise Http404
    report = get_or_404(reports_visible_to(request.user), report_id)
    try:
        casework.report_act(actor=me(request), report=report, action=action)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        done = {
            "consent": "Released to your supervisor.",
            "decline": "Not released.",
            "withdraw": "Consent withdrawn: your supervisor no longer sees it.",
        }
        messages.success(request, done[action])
    return HttpResponseRedirect(safe_next(request, reverse("web:officer-records")))


@page({Role.OFFICER})
def officer_records(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/officer_records.html",
        {
            "checkins": own_checkins(request.user).order_by("-due_on")[:50],
            "reports": reports_visible_to(request.user).exclude(state=ReportState.DRAFT),
            "visits": case_rules.visits(access_log_of(request.user)),
            "calendar_url": request.session.pop("calendar_url", None),
        },
    )


@page({Role.OFFICER, Role.SUPERVISOR, Role.OH, Role.HR})
@require_POST
def calendar_key(request: HttpRequest) -> HttpResponse:
    key = checkin_services.calendar_key_issue(user=me(request))
    request.session["calendar_url"] = request.build_absolute_uri(f"/api/v1/calendar/{key}.ics")
    return HttpResponseRedirect(reverse("web:officer-records"))


# --- Supervisor -----------------------------------------------------------------------


HEAT_LEVELS = 5  # the heat-map's shades: quarters of the weekly limit, and over it


def _heat(minutes: float, limit: float | None) -> int:
    if not limit:
        return 0
    return min(HEAT_LEVELS - 1, int(4 * minutes / limit))


@page({Role.SUPERVISOR})
def supervisor_home(request: HttpRequest) -> HttpResponse:
    """Who needs attention first (counts, then each officer with reasons in words), the
    team's load with four weeks as a heat-map, restrictions and released reports, check-ins,
    alerts by officer with bulk acknowledgement, and rotation decisions."""
    today = clock.today()
    officers = list(officers_visible_to(request.user).order_by("display_name"))
    ids = [o.pk for o in officers]
    states = limit_states({pk: [today] for pk in ids})
    weeks = weekly_minutes(ids, last=today, weeks=4)
    names = {o.pk: o.display_name for o in officers}
    checkins = list(
        checkins_visible_to(request.user).filter(status__in=OPEN_STATUSES).order_by("due_on")[:100]
    )
    overdue_since: dict[int, Any] = {}
    for c in checkins:
        if c.status == "overdue":
            overdue_since.setdefault(c.officer_id, c.due_on)
    visible = alerts_visible_to(request.user)
    unresolved = visible.exclude(status=AlertStatus.RESOLVED)
    rotation = list(unresolved.filter(kind=AlertKind.ROTATION_DUE).select_related("posting")[:100])
    deciding = {a.officer_id for a in rotation}
    open_counts = unresolved_alert_counts(request.user)
    rows, members = [], []
    for officer in officers:
        limits = {st.rule: st for st in states.get((officer.pk, today), [])}
        over = [
            exposure_rules.limit_in_words(st, with_state=False, say=_)
            for st in limits.values()
            if st.state == "breach"
        ]
        near = [
            exposure_rules.limit_in_words(st, with_state=False, say=_)
            for st in limits.values()
            if st.state == "warning"
        ]
        week_limit = limits["week_minutes"].limit if "week_minutes" in limits else None
        rows.append(
            {
                "officer": officer,
                "week": _bar(limits["week_minutes"]) if "week_minutes" in limits else None,
                "month": _bar(limits["rolling_28d_minutes"])
                if "rolling_28d_minutes" in limits
                else None,
                "over": over,
                "near": near,
                "weeks": [
                    {"minutes": m, "heat": _heat(m, week_limit)} for m in weeks.get(officer.pk, [])
                ],
            }
        )
        members.append(
            alert_rules.MemberState(
                officer_id=officer.pk,
                name=officer.display_name,
                over=over,
                near=near,
                checkin_overdue_since=overdue_since.get(officer.pk),
                decision_due=officer.pk in deciding,
                open_alerts=open_counts.get(officer.pk, 0),
            )
        )
    attention = alert_rules.team_attention(members)
    week_ends = [today - timedelta(days=7 * n) for n in (3, 2, 1, 0)]
    # The alert list, grouped by officer, filtered as asked (default: not resolved).
    chosen = request.GET.copy()
    if not chosen.getlist("status"):  # the form's default, also when only other filters are set
        chosen.setlist("status", ["open", "acknowledged"])
    alert_filter = AlertFilter(chosen, visible)
    filtered = alert_filter.qs if alert_filter.is_valid() else visible.none()
    context = {
        "rows": rows,
        "names": names,
        "attention": attention,
        "counts": {
            "breach": sum(1 for m in members if m.over),
            "warning": sum(1 for m in members if m.near and not m.over),
            "overdue": sum(1 for c in checkins if c.status == "overdue"),
            "decisions": len(rotation),
            "alerts": sum(open_counts.values()),
        },
        "week_ends": week_ends,
        "restrictions": list(
            restrictions_in_force(request.user, on=today)
            .select_related("officer")
            .order_by("officer__display_name", "starts_on")
        ),
        "reports": list(
            reports_visible_to(request.user).order_by("-consented_at", "-disclosed_at", "-pk")[:20]
        ),
        "checkins": checkins,
        "alert_groups": alerts_by_officer(filtered),
        "alert_filter": alert_filter.form,
        "kinds": [(k, alert_rules.KIND_WORDS[k]) for k in SUPERVISOR_KINDS],
        "statuses": AlertStatus.choices,
        "chosen": {
            "kind": request.GET.getlist("kind"),
            "status": request.GET.getlist("status") or ["open", "acknowledged"],
            "officer": request.GET.get("officer", ""),
        },
        "rotation": rotation,
        "decisions": RotationDecision.choices,
        "units": me(request).supervised_units.all(),
        "materials": dict(Material.choices),
    }
    return render(request, "web/supervisor_home.html", context)


@page({Role.SUPERVISOR, Role.OH})
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    alert = alert_get_for_user(request.user, alert_id)
    try:
        if action == "acknowledge":
            alert_services.alert_acknowledge(actor=me(request), alert=alert)
        elif action == "resolve":
            alert_services.alert_resolve(
                actor=me(request), alert=alert, note=request.POST.get("note", "")
            )
        else:
            raise Http404
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(
            request, "Alert acknowledged." if action == "acknowledge" else "Alert resolved."
        )
    return HttpResponseRedirect(safe_next(request, home_url(request.user)))


@page({Role.SUPERVISOR, Role.OH})
@require_POST
def alerts_acknowledge(request: HttpRequest) -> HttpResponse:
    """Acknowledge the alerts ticked in a list, at once."""
    ids = [int(v) for v in request.POST.getlist("alert") if v.isdigit()]
    alerts = list(alerts_visible_to(request.user).filter(pk__in=ids))
    if not ids or len(alerts) != len(set(ids)):
        messages.error(request, "Choose one or more of your alerts to acknowledge.")
    else:
        result = alert_services.alerts_acknowledge(actor=me(request), alerts=alerts)
        done = len(result.acknowledged)
        text = f"{done} alert{'s' if done != 1 else ''} acknowledged."
        if result.skipped:
            text += (
                f" {len(result.skipped)} left as they were: resolved already, or occupational "
                "health acts on them."
            )
        messages.success(request, text)
    return HttpResponseRedirect(safe_next(request, home_url(request.user)))


@page({Role.SUPERVISOR, Role.OH})
@require_POST
def rotation_decision(request: HttpRequest, posting_id: int) -> HttpResponse:
    posting = get_or_404(
        Posting.objects.filter(
            officer__in=officers_visible_to(request.user).values("pk")
        ).select_related("unit"),
        posting_id,
    )
    data = RotationReviewInput(
        data={
            "posting": posting.pk,
            "decision": request.POST.get("decision", ""),
            "next_review_on": request.POST.get("next_review_on") or None,
            "rotate_by": request.POST.get("rotate_by") or None,
            "note": request.POST.get("note", ""),
        }
    )
    try:
        if not data.is_valid():
            raise DomainError(fields=_field_errors(data.errors))
        values = dict(data.validated_data)
        values.pop("posting")
        alert_services.rotation_decision_record(actor=me(request), posting=posting, **values)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(request, "Decision recorded.")
    return HttpResponseRedirect(home_url(request.user))


@page({Role.SUPERVISOR})
@require_http_methods(["GET", "POST"])
def supervisor_import(request: HttpRequest) -> HttpResponse:
    report = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        limit = settings.IMPORT_MAX_BYTES
        if upload is None or (upload.size or 0) > limit:
            messages.error(
                request, f"Choose a CSV or JSON file of at most {limit // (1024 * 1024)} MB."
            )
        else:
            content = upload.read()
            try:
                payload = (
                    json.loads(content)
                    if (upload.name or "").lower().endswith(".json")
                    else parse_csv(content)
                )
            except (ValueError, RecursionError, APIException):  # not JSON, too deep, bad CSV
                payload = None
            if payload is None:
                messages.error(request, "The file has no rows I can read.")
            else:
                try:
                    report = import_payload(actor=me(request), payload=payload)
                except DomainError as refused:
                    _flash_problems(request, _problems(refused))
    return render(request, "web/supervisor_import.html", {"report": report})


# --- Occupational health --------------------------------------------------------------


QUEUE_SCOPE_LABELS = {
    "mine": "Mine, unassigned and urgent",
    "unassigned": "Unassigned",
    "all": "All",
}


@page({Role.OH})
def oh_home(request: HttpRequest) -> HttpResponse:
    """The work queue: what occupational health must act on, urgent first."""
    scope = request.GET.get("scope") or "mine"
    if scope not in QUEUE_SCOPES:
        scope = "mine"
    queue: Page[Any] = Paginator(work_queue(request.user, scope=scope), 50).get_page(
        request.GET.get("page")
    )
    casework.record_read(actor=me(request), action="queue.read", officer_id=None)
    staff = list(clinicians())
    names = {c.pk: c.get_full_name() or c.username for c in staff}
    now = clock.now()
    rows = [
        {
            "alert": alert,
            "reason": case_rules.describe(queue_item(alert), now),
            "late": alert.due_at < now,
            "owner_id": alert.owner_id,
            "owner": names.get(alert.owner_id, ""),
        }
        for alert in queue
    ]
    context = {
        "rows": rows,
        "page": queue,
        "scope": scope,
        "scopes": list(QUEUE_SCOPE_LABELS.items()),
        "clinicians": staff,
    }
    return render(request, "web/oh_queue.html", context)


@page({Role.OH})
def oh_cases(request: HttpRequest) -> HttpResponse:
    ranked: Any = cases_for(request.user)  # a sliceable sequence (see CaseList)
    cases: Page[Officer] = Paginator(ranked, 50).get_page(request.GET.get("page"))
    casework.record_read(actor=me(request), action="case.list", officer_id=None)
    return render(request, "web/oh_cases.html", {"cases": cases})


@page({Role.OH})
def oh_case(request: HttpRequest, officer_id: int) -> HttpResponse:
    officer = case_officer(request.user, officer_id)
    casework.record_read(actor=me(request), action="case.read", officer_id=officer.pk)
    parts = case_parts(officer)
    weeks = weekly_exposure(officer)
    exposure_chart = charts.bars([(w["week_starting"], w["minutes"]) for w in weeks], unit="")
    notes = [{"note": n, "body": casework.note_body(n)} for n in parts["notes"]]
    screenings = []
    by_instrument: dict[str, list[Any]] = {}
    for s in parts["screenings"]:
        instrument = instruments.get(s.instrument)
        answers = casework.screening_answers(s)
        asked = []
        if instrument is not None and len(answers) == instrument.item_count:
            asked = [
                {
                    "question": question,
                    "answer": instrument.options[value - instrument.low]
                    if 0 <= value - instrument.low < len(instrument.options)
                    else str(value),
                    "value": value,
                }
                for question, value in zip(instrument.items, answers, strict=True)
            ]
        screenings.append(
            {
                "screening": s,
                "name": instrument.name if instrument else s.instrument.upper(),
                "band": instrument_words.band_words(s.band),
                "flags": [
                    {
                        "words": instrument_words.flag_words(f),
                        "critical": instrument is not None and instrument.critical([f]),
                    }
                    for f in s.flags
                ],
                "asked": asked,
                "answers": answers,
                "comment": casework.screening_comment(s),
            }
        )
        if instrument is not None:
            by_instrument.setdefault(instrument.key, []).append(s)
    score_charts = []
    for key, taken in by_instrument.items():
        instrument = instruments.get(key)
        assert instrument is not None
        ordered = sorted(taken, key=lambda x: x.submitted_at)[-12:]
        score_charts.append(
            {
                "key": key,
                "name": instrument.name,
                "chart": charts.scores(
                    [
                        (x.submitted_at.astimezone(clock.local_zone()).date(), x.total)
                        for x in ordered
                    ],
                    high=instrument.high * instrument.item_count,
                ),
            }
        )
    now = clock.now()
    open_alerts = [
        {"alert": alert, "reason": case_rules.describe(queue_item(alert), now)}
        for alert in parts["alerts"]
        if alert.status != AlertStatus.RESOLVED
    ]
    summary = exposure_summary(officer, on=clock.today())
    context = {
        "officer": officer,
        "summary": summary,
        "breaches": [
            exposure_rules.limit_in_words(b, with_state=False, say=_) for b in summary.breaches
        ],
        "exposure_chart": exposure_chart if weeks else None,
        "score_charts": score_charts,
        "materials_words": dict(Material.choices),
        "parts": parts,
        "notes": notes,
        "screenings": screenings,
        "open_alerts": open_alerts,
        "owner": case_owner_of(officer.pk),
        "clinicians": list(clinicians()),
        "outcomes": Outcome.choices,
        "materials": Material.choices,
        "open_statuses": OPEN_STATUSES,
        "incidents": recent_incidents(request.user, officer=officer),
    }
    return render(request, "web/oh_case.html", context)


@page({Role.OH})
@require_POST
def oh_case_assign(request: HttpRequest, officer_id: int) -> HttpResponse:
    officer = case_officer(request.user, officer_id)
    raw = request.POST.get("clinician", "")
    clinician = get_or_404(clinicians(), raw) if raw else None
    try:
        alert_services.case_assign(actor=me(request), officer=officer, clinician=clinician)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        who = "you" if clinician == me(request) else (clinician.username if clinician else "nobody")
        messages.success(request, f"The case of {officer.display_name} is assigned to {who}.")
    return HttpResponseRedirect(safe_next(request, reverse("web:oh-case", args=[officer.pk])))


@page({Role.OH})
def oh_clinicians(request: HttpRequest) -> HttpResponse:
    staff = list(clinicians())
    lead = me(request).is_oh_lead
    context = {
        "clinicians": staff,
        "is_lead": lead,
        "has_lead": any(c.is_oh_lead for c in staff),
        "pending": list(pending_grants()) if lead else [],
        "recent": list(role_grants_visible_to(me(request)).exclude(state="pending")[:20]),
    }
    return render(request, "web/oh_clinicians.html", context)


@page({Role.OH})
@require_POST
def oh_clinician_lead(request: HttpRequest, user_id: int) -> HttpResponse:
    clinician = get_or_404(clinicians(), user_id)
    lead = request.POST.get("lead") == "yes"
    try:
        if lead and not clinician.is_oh_lead:
            accounts.role_grant_propose(actor=me(request), user=clinician, kind=GrantKind.OH_LEAD)
        else:
            accounts.oh_lead_set(actor=me(request), user=clinician, lead=lead)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(request, "Proposed: another lead must approve it." if lead else "Saved.")
    return HttpResponseRedirect(reverse("web:oh-clinicians"))


def _one_time_password(request: HttpRequest, username: str, password: str) -> HttpResponse:
    """The temporary password, shown once in this answer (never stored in the session or a
    message, never cached)."""
    response = render(
        request, "web/oh_temporary_password.html", {"username": username, "password": password}
    )
    response["Cache-Control"] = "no-store"
    return response


@page({Role.OH})
@require_POST
def oh_grant_decide(request: HttpRequest, grant_id: int, action: str) -> HttpResponse:
    grant = get_or_404(role_grants_visible_to(me(request)), grant_id)
    if action not in {"approve", "decline"}:
        raise NotFound()
    try:
        if action == "approve":
            decision = accounts.role_grant_approve(actor=me(request), grant=grant)
            if decision.temporary_password is not None:
                return _one_time_password(request, grant.user.username, decision.temporary_password)
        else:
            accounts.role_grant_decline(actor=me(request), grant=grant)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(request, "Approved." if action == "approve" else "Declined.")
    return HttpResponseRedirect(reverse("web:oh-clinicians"))


@page({Role.OH})
@require_POST
def oh_clinician_recover(request: HttpRequest, user_id: int) -> HttpResponse:
    clinician = get_or_404(clinicians(), user_id)
    try:
        password = accounts.account_recover(actor=me(request), user=clinician)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
        return HttpResponseRedirect(reverse("web:oh-clinicians"))
    return _one_time_password(request, clinician.username, password)


@page({Role.OH})
@require_POST
def oh_note(request: HttpRequest, officer_id: int) -> HttpResponse:
    officer = case_officer(request.user, officer_id)
    supersedes = None
    if request.POST.get("supersedes"):
        supersedes = get_or_404(parts_notes(officer), request.POST["supersedes"])
    try:
        casework.note_write(
            actor=me(request),
            officer=officer,
            body=request.POST.get("body", "")[:20000],
            supersedes=supersedes,
        )
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(request, "Note saved (encrypted).")
    return HttpResponseRedirect(reverse("web:oh-case", args=[officer.pk]))


def parts_notes(officer: Any) -> Any:
    return case_parts(officer)["notes"]


RESTRICTION_EXCEEDED = (
    "Not saved: this restriction is exceeded already today ({found}), so it would raise an "
    "alert at once. Tick \u201cSave it even so\u201d to go ahead."
)


def _refuse_if_exceeded(officer_id: int, restriction: Mapping[str, Any]) -> None:
    """A restriction that applies today and is broken already: refused until confirmed."""
    today = clock.today()
    try:
        starts = date.fromisoformat(str(restriction["starts_on"]))
        ends = date.fromisoformat(str(restriction["ends_on"])) if restriction["ends_on"] else None
        daily = float(restriction["daily_minutes"]) if restriction["daily_minutes"] else None
    except ValueError:
        return  # the form's own validation says what is wrong
    if starts > today or (ends is not None and ends < today):
        return
    media = media_minutes_on(officer_id, today)
    found = exposure_rules.restriction_exceeded(
        daily_minutes=daily,
        forbidden_media=restriction["forbidden_media"],
        used_minutes=sum(media.values()),
        media_minutes=media,
        media_words=dict(Material.choices),
    )
    if found:
        raise DomainError(RESTRICTION_EXCEEDED.format(found="; ".join(found)), code="exceeded")


@page({Role.OH})
@require_POST
def oh_restriction_lift(request: HttpRequest, restriction_id: int) -> HttpResponse:
    restriction = get_or_404(restrictions_visible_to(request.user), restriction_id)
    exposure_services.restriction_lift(actor=me(request), restriction=restriction)
    messages.success(request, "Restriction lifted: the officer's usual limits apply again.")
    return HttpResponseRedirect(reverse("web:oh-case", args=[restriction.officer_id]))


@page({Role.OH})
@require_POST
def oh_checkin_action(request: HttpRequest, checkin_id: int, action: str) -> HttpResponse:
    checkin: CheckIn = checkin_get_for_user(request.user, checkin_id)
    try:
        if action == "book":
            booking = BookInput(data={"booked_for": _aware(request.POST.get("booked_for", ""))})
            if not booking.is_valid():
                raise DomainError(fields=_field_errors(booking.errors))
            checkin_services.checkin_book(
                actor=me(request), checkin=checkin, **booking.validated_data
            )
        elif action == "complete":
            restriction: dict[str, Any] = {}
            if request.POST.get("restrict_from"):
                restriction = {
                    "starts_on": request.POST.get("restrict_from"),
                    "ends_on": request.POST.get("restrict_until") or None,
                    "daily_minutes": request.POST.get("restrict_daily_minutes") or None,
                    "forbidden_media": request.POST.getlist("restrict_media"),
                    "reason": request.POST.get("restrict_reason", ""),
                }
                if not request.POST.get("accept_exceeded"):
                    _refuse_if_exceeded(checkin.officer_id, restriction)
            data = CompleteInput(
                data={
                    "outcome": request.POST.get("outcome", ""),
                    "adjustments": request.POST.get("adjustments", ""),
                    "restrictions": [restriction] if restriction else [],
                }
            )
            if not data.is_valid():
                raise DomainError(
                    fields={
                        k: [str(m) for m in (v if isinstance(v, list) else [v])]
                        for k, v in data.errors.items()
                    }
                )
            checkin_services.checkin_complete(
                actor=me(request), checkin=checkin, **data.validated_data
            )
        elif action == "cancel":
            checkin_services.checkin_cancel(
                actor=me(request), checkin=checkin, reason=request.POST.get("reason", "")
            )
        elif action == "release":
            checkin_services.checkin_release(actor=me(request), checkin=checkin)
        else:
            raise Http404
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(
            request,
            {
                "book": "Booked.",
                "complete": "Check-in completed.",
                "cancel": "Cancelled.",
                "release": "The supervisor now sees a welfare appointment on this date.",
            }[action],
        )
    fallback = reverse("web:oh-case", args=[checkin.officer_id])
    return HttpResponseRedirect(safe_next(request, fallback))


@page({Role.OH})
@require_POST
def oh_report(request: HttpRequest, officer_id: int) -> HttpResponse:
    officer = case_officer(request.user, officer_id)
    fitness = request.POST.get("fitness", "")
    if fitness not in Outcome.values:
        messages.error(request, "Choose the fitness statement.")
    else:
        casework.report_draft(
            actor=me(request),
            officer=officer,
            fitness=fitness,
            adjustments=request.POST.get("adjustments", "")[:2000],
        )
        messages.success(request, "Report drafted. Offer it to the officer when it is ready.")
    return HttpResponseRedirect(reverse("web:oh-case", args=[officer.pk]))


@page({Role.OH})
@require_POST
def oh_report_action(request: HttpRequest, report_id: int, action: str) -> HttpResponse:
    if action not in {"offer", "disclose"}:
        raise Http404
    report = get_or_404(reports_visible_to(request.user), report_id)
    try:
        casework.report_act(
            actor=me(request),
            report=report,
            action=action,
            legal_basis=request.POST.get("legal_basis", ""),
        )
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        messages.success(
            request,
            "Offered to the officer."
            if action == "offer"
            else "Disclosed; recorded with its legal basis.",
        )
    fallback = reverse("web:oh-case", args=[report.officer_id])
    return HttpResponseRedirect(safe_next(request, fallback))


# --- HR -------------------------------------------------------------------------------

STATS_VIEWS = {
    "exposure": stats_api.ExposureStatsView,
    "checkins": stats_api.CheckinStatsView,
    "alerts": stats_api.AlertStatsView,
    "rotation": stats_api.RotationStatsView,
}
TABLE_WORDS = {
    "exposure": "Exposure to material",
    "checkins": "Check-ins",
    "alerts": "Alerts",
    "rotation": "Time in post",
}
CHART_METRIC = {
    "exposure": "hours",
    "checkins": "on_time_pct",
    "alerts": "raised",
    "rotation": "people",
}


def _stats_table(request: HttpRequest, query: Any = None, **detail: Any) -> tuple[str, Any]:
    name = request.GET.get("table", "exposure")
    view = STATS_VIEWS.get(name)
    if view is None:
        raise Http404
    return name, stats_api.stats_read(
        view, actor=me(request), query=request.GET if query is None else query, via="web", **detail
    )


def _trend(data: Mapping[str, Any], dims: Sequence[str], metric: str) -> charts.Chart | None:
    """The metric over the periods, for the whole force (the period totals), when the
    grouping has a period; None otherwise or with fewer than two periods."""
    period = next((d for d in dims if d in stats_rules.PERIOD_DIMS), None)
    if period is None:
        return None
    others = [d for d in dims if d != period]
    rows = data["rows"] if not others else data["totals"]
    found = {
        str(r[period]): None if r["suppressed"] or r[metric] is None else float(r[metric])
        for r in rows
        if r.get(period) is not None and all(r.get(d) is None for d in others)
    }
    if period == "month":  # every month of the period, those without a figure too
        first = date.fromisoformat(str(data["parameters"]["from"]))
        last = date.fromisoformat(str(data["parameters"]["to"]))
        month = first.replace(day=1)
        while month <= last:
            found.setdefault(f"{month:%Y-%m}", None)
            month = stats_rules.month_after(month)
    points = sorted(found.items())
    if len(points) < 2 or all(value is None for _label, value in points):
        return None
    return charts.trend(points)


def _grouping_options(name: str) -> list[tuple[str, str]]:
    """The groupings a table accepts, as (value, words) for a drop-down."""
    view = STATS_VIEWS[name]
    most = 1 if name == "rotation" else 2
    return [
        (",".join(dims), " and ".join(stat_words(d).lower() for d in dims).capitalize())
        for dims in stats_rules.groupings(view.allowed, most=most)
    ]


@page({Role.HR})
def hr_home(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("table", "exposure")
    if name not in STATS_VIEWS:
        raise Http404
    options = _grouping_options(name)
    query = request.GET.copy()
    default = STATS_VIEWS[name].default_group
    chosen = query.get("group_by") or default
    if chosen not in {value for value, _words in options}:
        if query.get("group_by"):
            messages.info(
                request, "That grouping does not apply to this table: shown by its usual one."
            )
        chosen = default if default in {v for v, _w in options} else options[0][0]
    query["group_by"] = chosen
    data = None
    chart: list[dict[str, Any]] = []
    trend_chart = None
    try:
        name, table = _stats_table(request, query)
    except DomainError as refused:
        _flash_problems(request, _problems(refused))
    else:
        data = stats_api.published(table)
        metric = CHART_METRIC[name]
        totals = [
            row
            for row in data["totals"]
            if row.get(table.dims[-1]) is None and row.get(table.dims[0]) is not None
        ]
        if len(table.dims) == 1:
            totals = data["rows"]
        peak = max([float(r[metric] or 0) for r in totals] + [1.0])
        chart = [
            {
                "label": r[table.dims[0]],
                "value": r[metric],
                "suppressed": r["suppressed"],
                "width": 0
                if r["suppressed"] or r[metric] is None
                else round(300 * float(r[metric]) / peak),
                "y": 8 + 28 * i,
            }
            for i, r in enumerate(totals)
        ]
        trend_chart = _trend(data, table.dims, metric)
    context = {
        "name": name,
        "data": data,
        "chart": chart,
        "chart_height": 16 + 28 * len(chart),
        "trend": trend_chart,
        "period_dim": next((d for d in ("month", "quarter") if d in query["group_by"]), None),
        "tables": TABLE_WORDS,
        "groupings": options,
        "group_by": chosen,
        "query": query.urlencode(),
        "metric": CHART_METRIC.get(name),
        "quarters": _ended_quarters(),
        "audiences": stats_rules.AUDIENCES,
    }
    return render(request, "web/hr_home.html", context)


def _ended_quarters(count: int = 8) -> list[str]:
    """The last few ended quarters, newest first: the periods the form offers."""
    quarters = [stats_rules.last_ended_quarter(clock.today())]
    while len(quarters) < count:
        start, _end = stats_rules.parse_quarter(quarters[-1])
        quarters.append(stats_rules.last_ended_quarter(start))
    return quarters


@page({Role.HR})
def hr_download(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("format", "csv")
    renderer = {"csv": CSVRenderer, "xlsx": XLSXRenderer}.get(kind)
    if renderer is None:
        raise Http404
    try:
        _name, table = _stats_table(request, format=kind)
    except DomainError:
        raise Http404 from None
    data = stats_api.published(table)
    response = HttpResponse(renderer().render(data), content_type=renderer.media_type)
    for header, value in export_headers(data, kind).items():
        response[header] = value
    return response
