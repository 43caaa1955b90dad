from django.urls import path

from rendering.preview_apis import ClipContactSheetApi, ClipPreviewsApi, ClipPreviewVideoApi

urlpatterns = [
    path("videos/<uuid:video_id>/previews", ClipPreviewsApi.as_view(), name="video-previews"),
    path(
        "videos/<uuid:video_id>/suggestions/<int:rank>/contact-sheet",
        ClipContactSheetApi.as_view(),
        name="clip-contact-sheet",
    ),
    path("videos/<uuid:video_id>/suggestions/<int:rank>/preview", ClipPreviewVideoApi.as_view(), name="clip-preview"),
]
