from django.urls import path

from music.apis import MusicAnalysisApi, MusicDetailApi, MusicListCreateApi

urlpatterns = [
    path("music", MusicListCreateApi.as_view(), name="music-list"),
    path("music/<uuid:music_id>", MusicDetailApi.as_view(), name="music-detail"),
    path("music/<uuid:music_id>/analysis", MusicAnalysisApi.as_view(), name="music-analysis"),
]
