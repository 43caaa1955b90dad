from django.urls import path

from rendering.apis import RenderDownloadApi, RendersApi
from suggestions.apis import SuggestionsApi, SuggestionsRecomputeApi
from video.apis import VideoAnalysisApi, VideoDetailApi, VideoListCreateApi

urlpatterns = [
    path("videos", VideoListCreateApi.as_view(), name="video-list"),
    path("videos/<uuid:video_id>", VideoDetailApi.as_view(), name="video-detail"),
    path("videos/<uuid:video_id>/analysis", VideoAnalysisApi.as_view(), name="video-analysis"),
    path("videos/<uuid:video_id>/suggestions", SuggestionsApi.as_view(), name="video-suggestions"),
    path(
        "videos/<uuid:video_id>/suggestions/recompute",
        SuggestionsRecomputeApi.as_view(),
        name="video-suggestions-recompute",
    ),
    path("videos/<uuid:video_id>/renders", RendersApi.as_view(), name="video-renders"),
    path("renders/<int:render_id>/download", RenderDownloadApi.as_view(), name="render-download"),
]
