from django.urls import path, re_path

from rendering.apis import RenderCaptionsApi, RenderDownloadApi, RendersApi

urlpatterns = [
    path("videos/<uuid:video_id>/renders", RendersApi.as_view(), name="video-renders"),
    path("renders/<int:render_id>/download", RenderDownloadApi.as_view(), name="render-download"),
    re_path(
        r"^renders/(?P<render_id>[0-9]+)/captions\.(?P<fmt>srt|vtt)$",
        RenderCaptionsApi.as_view(),
        name="render-captions",
    ),
]
