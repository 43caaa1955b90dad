from django.urls import path

from suggestions.apis import SuggestionExportApi, SuggestionsApi, SuggestionsRecomputeApi

urlpatterns = [
    path("videos/<uuid:video_id>/suggestions", SuggestionsApi.as_view(), name="video-suggestions"),
    path(
        "videos/<uuid:video_id>/suggestions/recompute",
        SuggestionsRecomputeApi.as_view(),
        name="video-suggestions-recompute",
    ),
    path(
        "videos/<uuid:video_id>/suggestions/<int:rank>/export",
        SuggestionExportApi.as_view(),
        name="video-suggestion-export",
    ),
]
