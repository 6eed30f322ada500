from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.health import healthz, readyz

handler500 = "backend.views.server_error"

api_v1 = [
    path("", include("welfare.accounts.urls")),
    path("", include("welfare.people.urls")),
    path("", include("welfare.exposure.urls")),
    path("", include("welfare.checkins.urls")),
    path("", include("welfare.alerts.urls")),
    path("", include("welfare.casework.urls")),
    path("", include("welfare.stats.urls")),
    path("", include("welfare.audit.urls")),
    path("", include("welfare.records.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("welfare.web.urls")),
]

if settings.BENCH_BARE_VIEW:  # the benchmark's floor; never set in a deployment
    from bench.views import bare_exposure

    urlpatterns.insert(0, path("bench/bare-exposure", bare_exposure))
