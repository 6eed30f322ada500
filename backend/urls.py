from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from backend.health import healthz, readyz
from backend.views import API_NOT_FOUND, DocsView, SchemaView, api_not_found

handler400 = "backend.views.bad_request"
handler500 = "backend.views.server_error"

# One flat list: resolving a path tries each pattern in turn, where nested includes raised
# and caught a Resolver404 for every app before the right one (and built the list of what
# they tried), on every request.
API_APPS = ("accounts", "people", "exposure", "checkins", "alerts", "casework", "stats", "audit",
            "records")  # fmt: skip
api_v1 = [
    pattern for app in API_APPS for pattern in import_module(f"welfare.{app}.urls").urlpatterns
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # After every API route: the rest of /api/ answers the JSON 404 (see api_not_found).
    re_path(r"^api(?:/|$)", api_not_found, name=API_NOT_FOUND),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("scim/", include("welfare.directory.urls")),
    path("", include("welfare.web.urls")),
]

if settings.BENCH_BARE_VIEW:  # the benchmark's floor; never set in a deployment
    from bench.views import bare_exposure

    urlpatterns.insert(0, path("bench/bare-exposure", bare_exposure))
