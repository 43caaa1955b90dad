"""The URL map: infrastructure routes plus each domain app's own ``urls.py``.

Part of the composition root (with ``fala_clip.pipeline``): it may import
every app; no app imports it.
"""

from django.contrib import admin
from django.urls import URLPattern, include, path
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from fala_clip.auth import RQ_DASHBOARD_PERMISSION, operator_view


def _operators_only(view):  # type: ignore[no-untyped-def]
    return operator_view(view, RQ_DASHBOARD_PERMISSION)


# django-rq's dashboard (every artist's RQ jobs, enqueue/requeue/delete forms) checks only
# is_staff, and its stats.json / metrics views let any staff user in: every one of its views
# is wrapped so that only holders of django-rq's own "admin" permission (the operator group)
# get through.  Its API views' bearer token (RQ_API_TOKEN) is not used here: Prometheus
# scrapes our /metrics.
_rq_api_urls = [
    URLPattern(p.pattern, _operators_only(p.callback), p.default_args, p.name) for p in get_api_urlpatterns()
]
django_rq_urls = ([*_rq_api_urls, *get_admin_urlpatterns(view_wrapper=_operators_only)], "django_rq")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from its own URL (``?script``): no
    # inline script, so the Content-Security-Policy allows scripts from this origin only.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # Our template: drf-spectacular's links Google Fonts; assets come from the sidecar.
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="fala_clip/redoc.html"),
        name="redoc",
    ),
    path("django-rq/", include(django_rq_urls)),
    path("", include("metrics.urls")),
    path("", include("jobs.urls")),
    path("", include("music.urls")),
    path("", include("video.urls")),
    path("", include("suggestions.urls")),
    path("", include("rendering.urls")),
    path("", include("rendering.preview_urls")),
    path("", include("learning.urls")),
]

# Django's own errors (no view matched, a failure outside DRF) in the API's JSON
# shape; the admin and the docs pages keep their HTML pages.
handler400 = "fala_clip.api.views.bad_request"
handler403 = "fala_clip.api.views.permission_denied"
handler404 = "fala_clip.api.views.page_not_found"
handler500 = "fala_clip.api.views.server_error"
