from welfare.audit import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("audit", api.AuditEventViewSet, basename="audit")

urlpatterns = router.urls
