from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from jobs.models import Job
from video.models import VideoIngest

# Each video's jobs, newest first, fetched in one query for a whole page (the
# list serializer shows the latest one; without this it ran a query a row).
_JOBS = "jobs_newest_first"


def _with_jobs(qs: QuerySet[VideoIngest]) -> QuerySet[VideoIngest]:
    return qs.prefetch_related(Prefetch("jobs", queryset=Job.objects.order_by("-created_at", "-pk"), to_attr=_JOBS))


def video_list(*, owner: Any) -> QuerySet[VideoIngest]:
    return _with_jobs(VideoIngest.objects.filter(owner=owner)).order_by("-created_at", "pk")


def video_get(*, owner: Any, video_id: Any) -> VideoIngest:
    """The owner's video or ``VideoIngest.DoesNotExist`` (the API answers 404 either way)."""
    return VideoIngest.objects.select_related("analysis", "music").get(owner=owner, pk=video_id)


def video_latest_job(*, ingest: VideoIngest) -> Any:
    """The most recent clip-pipeline job of the video (None before any); reads the prefetched list when there is one."""
    prefetched = getattr(ingest, _JOBS, None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return ingest.jobs.order_by("-created_at", "-pk").first()
