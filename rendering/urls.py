from django.urls import path

from rendering.apis import RenderCaptionsSrtApi, RenderCaptionsVttApi, RenderDownloadApi, RendersApi

urlpatterns = [
    path("videos/<uuid:video_id>/renders", RendersApi.as_view(), name="video-renders"),
    path("renders/<int:render_id>/download", RenderDownloadApi.as_view(), name="render-download"),
    path("renders/<int:render_id>/captions.srt", RenderCaptionsSrtApi.as_view(), name="render-captions-srt"),
    path("renders/<int:render_id>/captions.vtt", RenderCaptionsVttApi.as_view(), name="render-captions-vtt"),
]
