from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from video.models import VideoIngest


def video_list(*, owner: Any) -> QuerySet[VideoIngest]:
    return VideoIngest.objects.filter(owner=owner).order_by("-created_at", "pk")


def video_get(*, owner: Any, video_id: Any) -> VideoIngest:
    """The owner's video or ``VideoIngest.DoesNotExist`` (the API answers 404 either way)."""
    return VideoIngest.objects.select_related("analysis", "music").get(owner=owner, pk=video_id)


def video_latest_job(*, ingest: VideoIngest) -> Any:
    """The most recent clip-pipeline job of the video (None before any)."""
    return ingest.jobs.order_by("-created_at").first()
