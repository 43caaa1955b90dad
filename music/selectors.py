"""Reads for the music domain, scoped to the owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from music.models import MusicAnalysis, MusicAsset


def music_list(*, owner: Any) -> QuerySet[MusicAsset]:
    return MusicAsset.objects.filter(owner=owner).select_related("analysis").order_by("-created_at", "pk")


def music_get(*, owner: Any, music_id: Any) -> MusicAsset:
    """The owner's track or ``MusicAsset.DoesNotExist``."""
    return MusicAsset.objects.select_related("analysis").get(owner=owner, pk=music_id)


def music_latest_job(*, asset: MusicAsset) -> Any:
    return asset.jobs.filter(kind="music_analysis").order_by("-created_at").first()


def music_analysis_get(*, asset: MusicAsset) -> MusicAnalysis | None:
    """The track's stored analysis (None until it has been analysed)."""
    return MusicAnalysis.objects.filter(asset=asset).first()
