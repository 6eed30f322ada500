from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from welfare.accounts.models import User
from welfare.core.admin import ServiceAdmin
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
