from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("django-rq/", include("django_rq.urls")),
    path("", include("django_prometheus.urls")),
    path("", include("jobs.urls")),
    path("", include("music.urls")),
    path("", include("video.urls")),
]
