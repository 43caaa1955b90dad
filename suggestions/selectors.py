"""Reads for the suggestions domain, scoped to the owner."""

from __future__ import annotations

from typing import Any

from suggestions.models import ClipModel, SuggestionSet
from video.selectors import video_get


def suggestion_set_current(*, owner: Any, video_id: Any) -> SuggestionSet | None:
    """The owner's video's current suggestion set with its clip models, or None when there is none yet.

    Raises ``VideoIngest.DoesNotExist`` when the video is not the owner's.
    """
    ingest = video_get(owner=owner, video_id=video_id)
    return SuggestionSet.objects.filter(ingest=ingest, is_current=True).prefetch_related("clip_models").first()


def clip_model_current(*, owner: Any, video_id: Any, rank: int) -> ClipModel:
    """The clip model of rank ``rank`` in the owner's video's current suggestion set.

    Raises ``VideoIngest.DoesNotExist`` (not the owner's video) or ``ClipModel.DoesNotExist``
    (no current set, or no such rank): both are a 404.
    """
    ingest = video_get(owner=owner, video_id=video_id)
    return ClipModel.objects.select_related("ingest__analysis", "ingest__music", "ingest__artist").get(
        suggestion_set__ingest=ingest, suggestion_set__is_current=True, rank=rank
    )
