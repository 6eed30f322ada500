from django.urls import path

from welfare.core.routers import ApiRouter
from welfare.people import api

router = ApiRouter()
router.register("units", api.UnitViewSet, basename="unit")
router.register("officers", api.OfficerViewSet, basename="officer")
router.register("officers/<int:officer_id>/postings", api.PostingViewSet, basename="posting")

urlpatterns = [
    path("me", api.MeView.as_view(), name="me"),
    path("imports/preview", api.PeopleImportPreviewView.as_view(), name="people-import-preview"),
    path("imports/apply", api.PeopleImportApplyView.as_view(), name="people-import-apply"),
    *router.urls,
]
