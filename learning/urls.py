from django.urls import path

from learning.apis import (
    ArtistFeedbackCreateApi,
    CenterDetailApi,
    CenterDiffApi,
    CenterExperimentalApi,
    CenterListCreateApi,
    CenterPauseApi,
    CenterResumeApi,
    CenterRollbackApi,
    CenterVersionDetailApi,
    CenterVersionListApi,
    FeedbackDetailApi,
    FeedbackListApi,
    MusicFeedbackCreateApi,
)

urlpatterns = [
    path("feedback", FeedbackListApi.as_view(), name="feedback-list"),
    path("feedback/music/<uuid:music_id>", MusicFeedbackCreateApi.as_view(), name="feedback-music-create"),
    path("feedback/artist", ArtistFeedbackCreateApi.as_view(), name="feedback-artist-create"),
    path("feedback/<uuid:feedback_id>", FeedbackDetailApi.as_view(), name="feedback-detail"),
    path("learning-centers", CenterListCreateApi.as_view(), name="learning-center-list"),
    path("learning-centers/<int:center_id>", CenterDetailApi.as_view(), name="learning-center-detail"),
    path("learning-centers/<int:center_id>/pause", CenterPauseApi.as_view(), name="learning-center-pause"),
    path("learning-centers/<int:center_id>/resume", CenterResumeApi.as_view(), name="learning-center-resume"),
    path(
        "learning-centers/<int:center_id>/experimental",
        CenterExperimentalApi.as_view(),
        name="learning-center-experimental",
    ),
    path("learning-centers/<int:center_id>/rollback", CenterRollbackApi.as_view(), name="learning-center-rollback"),
    path(
        "learning-centers/<int:center_id>/versions",
        CenterVersionListApi.as_view(),
        name="learning-center-versions",
    ),
    path(
        "learning-centers/<int:center_id>/versions/<int:number>",
        CenterVersionDetailApi.as_view(),
        name="learning-center-version",
    ),
    path("learning-centers/<int:center_id>/diff", CenterDiffApi.as_view(), name="learning-center-diff"),
]
