from django.urls import path

from welfare.casework import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("reports", api.ReportViewSet, basename="report")

urlpatterns = [
    path("screenings/instruments", api.InstrumentListView.as_view(), name="instruments"),
    path("screenings/", api.SelfCheckView.as_view(), name="self-checks"),
    path("support", api.SupportView.as_view(), name="support"),
    path("oh/queue/", api.QueueView.as_view(), name="oh-queue"),
    path("oh/clinicians/", api.ClinicianListView.as_view(), name="oh-clinicians"),
    path(
        "oh/clinicians/<int:user_id>/lead",
        api.ClinicianLeadView.as_view(),
        name="oh-clinician-lead",
    ),
    path("checkins/<int:checkin_id>/screenings", api.ScreeningView.as_view(), name="screenings"),
    path("oh/cases/", api.CaseListView.as_view(), name="oh-cases"),
    path("oh/cases/<int:officer_id>", api.CaseDetailView.as_view(), name="oh-case"),
    path("oh/cases/<int:officer_id>/notes", api.CaseNotesView.as_view(), name="oh-case-notes"),
    path("oh/cases/<int:officer_id>/assign", api.CaseAssignView.as_view(), name="oh-case-assign"),
    path(
        "oh/cases/<int:officer_id>/reports", api.CaseReportsView.as_view(), name="oh-case-reports"
    ),
    path("me/access-log", api.AccessLogView.as_view(), name="access-log"),
    *router.urls,
]
