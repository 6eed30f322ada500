from django.urls import path

from welfare.alerts import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("alerts", api.AlertViewSet, basename="alert")
router.register("notifications", api.NotificationViewSet, basename="notification")
router.register("rotation-reviews", api.RotationReviewViewSet, basename="rotation-review")
router.register("webhooks", api.WebhookViewSet, basename="webhook")

urlpatterns = [
    path("units/<int:unit_id>/summary", api.UnitSummaryView.as_view(), name="unit-summary"),
    *router.urls,
]
