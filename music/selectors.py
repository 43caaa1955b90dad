"""Reads for the music domain, scoped to the owner."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from jobs.models import Job, JobKind
from music.models import MusicAnalysis, MusicAsset

# Each track's analysis jobs, newest first, fetched in one query for a whole page
# (the list serializer shows the latest one; without this it ran 2-3 queries a row).
_ANALYSIS_JOBS = "analysis_jobs"


def _with_list_data(qs: QuerySet[MusicAsset]) -> QuerySet[MusicAsset]:
    jobs = Job.objects.filter(kind=JobKind.MUSIC_ANALYSIS).order_by("-created_at", "-pk")
    return qs.select_related("analysis").prefetch_related(Prefetch("jobs", queryset=jobs, to_attr=_ANALYSIS_JOBS))


def music_list(*, owner: Any) -> QuerySet[MusicAsset]:
    return _with_list_data(MusicAsset.objects.filter(owner=owner, deleted_at__isnull=True)).order_by(
        "-created_at", "pk"
    )


def music_get(*, owner: Any, music_id: Any) -> MusicAsset:
    """The owner's track or ``MusicAsset.DoesNotExist`` (a deleted track too)."""
    return _with_list_data(MusicAsset.objects.all()).get(owner=owner, pk=music_id, deleted_at__isnull=True)


def music_latest_job(*, asset: MusicAsset) -> Any:
    """The track's latest analysis job (None before any); reads the prefetched list when there is one."""
    prefetched = getattr(asset, _ANALYSIS_JOBS, None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return asset.jobs.filter(kind=JobKind.MUSIC_ANALYSIS).order_by("-created_at", "-pk").first()


def music_has_analysis(*, asset: MusicAsset) -> bool:
    """Whether the track has been analysed (no query when ``analysis`` was selected with it)."""
    try:
        return asset.analysis is not None
    except MusicAnalysis.DoesNotExist:
        return False


def music_analysis_get(*, asset: MusicAsset) -> MusicAnalysis | None:
    """The track's stored analysis (None until it has been analysed)."""
    return MusicAnalysis.objects.filter(asset=asset).first()
