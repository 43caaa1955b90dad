from django.urls import path

from rendering.apis import RenderDownloadApi, RendersApi

urlpatterns = [
    path("videos/<uuid:video_id>/renders", RendersApi.as_view(), name="video-renders"),
    path("renders/<int:render_id>/download", RenderDownloadApi.as_view(), name="render-download"),
]
