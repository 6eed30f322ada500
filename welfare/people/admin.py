from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from welfare.accounts.models import User
from welfare.core.admin import ServiceAdmin
from welfare.core.errors import DomainError
from welfare.core.roles import Role
from welfare.people import services
from welfare.people.models import Officer, Posting, Unit


class UnitAdminForm(forms.ModelForm):
    class Meta:
        model = Unit
        fields = ["name", "kind", "supervisors"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        supervisors = cast(forms.ModelMultipleChoiceField, self.fields["supervisors"])
        supervisors.queryset = User.objects.filter(role=Role.SUPERVISOR, is_active=True)


@admin.register(Unit)
class UnitAdmin(ServiceAdmin):
    form = UnitAdminForm
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]
    # A plain multiple choice for supervisors: Django's two-box filter widget carries ARIA
    # attributes its elements may not have (axe: aria-prohibited-attr).

    def save_model(self, request: HttpRequest, obj: Unit, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = services.unit_update(actor=request.user, unit=obj, changes=dict(data))  # type: ignore[arg-type]
        else:
            saved = services.unit_create(
                actor=request.user,  # type: ignore[arg-type]
                name=data["name"],
                kind=data["kind"],
                supervisors=data.get("supervisors") or [],
            )
        obj.pk = saved.pk


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["unit", "started_on", "ended_on"]
    readonly_fields = ("unit", "started_on", "ended_on")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OfficerAdminForm(forms.ModelForm):
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.all(), required=False, help_text="First posting."
    )
    posted_since = forms.DateField(required=False, help_text="First posting starts on.")

    class Meta:
        model = Officer
        fields = ["user", "staff_number", "display_name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            users = cast(forms.ModelChoiceField, self.fields["user"])
            # Whatever their role: a supervisor who also reviews material has one too.
            users.queryset = User.objects.filter(is_active=True, officer__isnull=True)


@admin.register(Officer)
class OfficerAdmin(ServiceAdmin):
    form = OfficerAdminForm
    list_display = ["display_name", "staff_number"]
    search_fields = ["display_name", "staff_number"]
    inlines = [PostingInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "staff_number", "display_name", "unit", "posted_since"]
        return ["staff_number", "display_name"]

    def save_model(self, request: HttpRequest, obj: Officer, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            changes = {key: data[key] for key in ("staff_number", "display_name") if key in data}
            saved = services.officer_update(actor=request.user, officer=obj, changes=changes)  # type: ignore[arg-type]
        else:
            saved = services.officer_create(
                actor=request.user,  # type: ignore[arg-type]
                user=data["user"],
                staff_number=data["staff_number"],
                display_name=data["display_name"],
                unit=data.get("unit"),
                posted_since=data.get("posted_since"),
            )
        obj.pk = saved.pk


@admin.register(Posting)
class PostingAdmin(ServiceAdmin):
    list_display = ["officer", "unit", "started_on", "ended_on"]
    list_filter = ["unit"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["officer", "unit", "started_on"] if obj is None else ["ended_on"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.ended_on is None)

    def save_model(self, request: HttpRequest, obj: Posting, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            if data.get("ended_on"):
                services.posting_end(actor=request.user, posting=obj, ended_on=data["ended_on"])  # type: ignore[arg-type]
            return
        saved = services.posting_start(
            actor=request.user,  # type: ignore[arg-type]
            officer=data["officer"],
            unit=data["unit"],
            started_on=data["started_on"],
        )
        obj.pk = saved.pk


# --- Bulk import of units, people and postings (README, "Bulk import (CSV/XLSX)") ------------

IMPORT_TITLE = "Import units, people and postings"
IMPORT_CHOOSE_FILE = "Choose a CSV or XLSX file of at most {size} KB."
IMPORT_DONE = "Imported: {created} created, {changed} changed, {unchanged} unchanged."
IMPORT_OUTCOME_STYLE = {
    "created": "import-created",
    "changed": "import-changed",
    "unchanged": "import-unchanged",
    "rejected": "import-rejected",
}


def _refusal_text(error: DomainError) -> str:
    body = error.body()
    if "detail" in body:
        return str(body["detail"])
    return " ".join(f"{field}: {' '.join(texts)}" for field, texts in body.items())


@require_http_methods(["GET", "POST"])
def people_import_view(request: HttpRequest) -> HttpResponse:
    """The admin site's import page (`/admin/people/import/`, behind the site's role and
    two-factor check): upload a file and see what it would do; apply it by choosing the
    same file again, sent with the preview's digests. Nothing is kept between the two."""
    actor = cast(User, request.user)
    report: services.ImportReport | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        limit = settings.PEOPLE_IMPORT_MAX_BYTES
        if upload is None or (upload.size or 0) > limit:
            messages.error(request, IMPORT_CHOOSE_FILE.format(size=limit // 1024))
        else:
            content = upload.read()
            try:
                if request.POST.get("apply"):
                    report = services.people_import_apply(
                        actor=actor,
                        content=content,
                        sha256=request.POST.get("sha256", ""),
                        plan_sha256=request.POST.get("plan_sha256", ""),
                    )
                    messages.success(request, IMPORT_DONE.format(**report.plan.counts()))
                else:
                    report = services.people_import_preview(actor=actor, content=content)
            except services.ImportRejected as refused:
                report = refused.report
                messages.error(request, refused.message)
            except DomainError as refused:
                messages.error(request, _refusal_text(refused))
    body = services.import_report_body(report) if report is not None else None
    rows = [
        {**row, "style": IMPORT_OUTCOME_STYLE[row["outcome"]]}
        for row in (body["rows"] if body else [])
    ]
    context = {
        **admin.site.each_context(request),
        "title": IMPORT_TITLE,
        "report": body,
        "rows": rows,
        "limit_kb": settings.PEOPLE_IMPORT_MAX_BYTES // 1024,
    }
    return TemplateResponse(request, "admin/people/import.html", context)
