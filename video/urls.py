from django.urls import path

from video.apis import VideoAnalysisApi, VideoDetailApi, VideoListCreateApi

urlpatterns = [
    path("videos", VideoListCreateApi.as_view(), name="video-list"),
    path("videos/<uuid:video_id>", VideoDetailApi.as_view(), name="video-detail"),
    path("videos/<uuid:video_id>/analysis", VideoAnalysisApi.as_view(), name="video-analysis"),
]
