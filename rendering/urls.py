from django.urls import path

from rendering.apis import (
    RenderCaptionsSrtApi,
    RenderCaptionsVttApi,
    RenderDownloadApi,
    RenderExportApi,
    RendersApi,
)

urlpatterns = [
    path("videos/<uuid:video_id>/renders", RendersApi.as_view(), name="video-renders"),
    path("renders/<int:render_id>/download", RenderDownloadApi.as_view(), name="render-download"),
    path("renders/<int:render_id>/export", RenderExportApi.as_view(), name="render-export"),
    path("renders/<int:render_id>/captions.srt", RenderCaptionsSrtApi.as_view(), name="render-captions-srt"),
    path("renders/<int:render_id>/captions.vtt", RenderCaptionsVttApi.as_view(), name="render-captions-vtt"),
]
