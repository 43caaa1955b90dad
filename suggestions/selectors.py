"""Reads for the suggestions domain, scoped to the owner."""

from __future__ import annotations

from typing import Any

from suggestions.models import SuggestionSet
from video.selectors import video_get


def suggestion_set_current(*, owner: Any, video_id: Any) -> SuggestionSet | None:
    """The owner's video's current suggestion set with its clip models, or None when there is none yet.

    Raises ``VideoIngest.DoesNotExist`` when the video is not the owner's.
    """
    ingest = video_get(owner=owner, video_id=video_id)
    return SuggestionSet.objects.filter(ingest=ingest, is_current=True).prefetch_related("clip_models").first()
