from welfare.core.routers import ApiRouter
from welfare.records import api

router = ApiRouter()
router.register("legal-holds", api.LegalHoldViewSet, basename="legal-hold")

urlpatterns = router.urls
