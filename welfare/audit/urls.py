from rest_framework.routers import SimpleRouter

from welfare.audit import api

router = SimpleRouter()
router.register("audit", api.AuditEventViewSet, basename="audit")

urlpatterns = router.urls
