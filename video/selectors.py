from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from video.models import VideoIngest


def video_list(*, owner: Any) -> QuerySet[VideoIngest]:
    return VideoIngest.objects.filter(owner=owner).order_by("-created_at", "pk")


def video_get(*, owner: Any, video_id: Any) -> VideoIngest:
    return VideoIngest.objects.select_related("analysis", "music").get(owner=owner, pk=video_id)
