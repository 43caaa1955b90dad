from django.urls import path

from suggestions.apis import SuggestionsApi, SuggestionsRecomputeApi

urlpatterns = [
    path("videos/<uuid:video_id>/suggestions", SuggestionsApi.as_view(), name="video-suggestions"),
    path(
        "videos/<uuid:video_id>/suggestions/recompute",
        SuggestionsRecomputeApi.as_view(),
        name="video-suggestions-recompute",
    ),
]
