from django.urls import path

from welfare.core.routers import ApiRouter
from welfare.exposure import api

router = ApiRouter()
router.register("exposures", api.ExposureViewSet, basename="exposure")
router.register("policies", api.PolicyViewSet, basename="policy")
router.register("restrictions", api.RestrictionViewSet, basename="restriction")

urlpatterns = [
    path(
        "officers/<int:officer_id>/exposure-summary",
        api.ExposureSummaryView.as_view(),
        name="exposure-summary",
    ),
    *router.urls,
]
