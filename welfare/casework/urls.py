from django.urls import path

from welfare.casework import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("reports", api.ReportViewSet, basename="report")

urlpatterns = [
    path("screenings/instruments", api.InstrumentListView.as_view(), name="instruments"),
    path("checkins/<int:checkin_id>/screenings", api.ScreeningView.as_view(), name="screenings"),
    path("oh/cases/", api.CaseListView.as_view(), name="oh-cases"),
    path("oh/cases/<int:officer_id>", api.CaseDetailView.as_view(), name="oh-case"),
    path("oh/cases/<int:officer_id>/notes", api.CaseNotesView.as_view(), name="oh-case-notes"),
    path(
        "oh/cases/<int:officer_id>/reports", api.CaseReportsView.as_view(), name="oh-case-reports"
    ),
    path("me/access-log", api.AccessLogView.as_view(), name="access-log"),
    *router.urls,
]
