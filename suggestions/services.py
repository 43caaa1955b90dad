"""Computing and storing clip suggestions."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from music.analysis.contracts import MusicAnalysisInput
from suggestions.engine import suggest_clips
from suggestions.models import ClipModel, SuggestionSet
from suggestions.profiles import effective_profile


def _music_input(music_analysis: Any) -> MusicAnalysisInput | None:
    """The stored track analysis as the engine reads it (beats from the ``music_beats`` rows)."""
    if music_analysis is None:
        return None
    beats = list(music_analysis.beats.order_by("index").values_list("time", "bar_position", "is_downbeat"))
    return {
        "duration": music_analysis.duration,
        "tempo": music_analysis.tempo,
        "beats": [b[0] for b in beats],
        "beat_positions": [b[1] for b in beats],
        "downbeats": [b[0] for b in beats if b[2]],
        "onset_curve": music_analysis.onset_curve,
        "energy_curve": music_analysis.energy_curve,
        "sections": music_analysis.sections,
        "activity": music_analysis.activity,
        "transcription": music_analysis.transcription,
        "genre": {
            "declared": music_analysis.genre_declared,
            "inferred": music_analysis.genre_inferred,
            "score": music_analysis.genre_score,
        },
    }


def suggestions_compute(
    *, ingest: Any, job: Any = None, video_analysis: Any, music_analysis: Any = None, reuse: bool = True
) -> list[ClipModel]:
    """Run the engine with the current effective profile and store the result.

    A retried job (same ``job``) reuses the set it already stored.  The
    previous current set of the video stops being current.
    """
    if reuse and job is not None:
        existing = SuggestionSet.objects.filter(ingest=ingest, job=job, is_current=True).first()
        if existing is not None:
            return list(existing.clip_models.order_by("rank"))
    options = ingest.options or {}
    genre = music_analysis.effective_genre if music_analysis is not None else ""
    allow_exp = bool(options.get("allow_experimental"))
    profile = effective_profile(owner=ingest.owner, music=ingest.music, genre=genre, allow_experimental=allow_exp)
    t0 = time.perf_counter()
    result = suggest_clips(
        video_analysis.as_engine_input(),
        _music_input(music_analysis),
        profile,
        min_start_gap_s=settings.MIN_START_GAP_S,
        target_length_s=options.get("target_length_s"),
    )
    elapsed_ms = (time.perf_counter() - t0) * 1000
    with transaction.atomic():
        SuggestionSet.objects.filter(ingest=ingest, is_current=True).update(is_current=False)
        sset = SuggestionSet.objects.create(
            ingest=ingest,
            job=job,
            reasons=result.reasons,
            profile=profile.to_dict(),
            profile_sources=result.profile_sources,
            features_version=result.features_version,
            genre=genre,
            allow_experimental=allow_exp,
            duration_ms=round(elapsed_ms, 2),
        )
        models = [
            ClipModel(
                suggestion_set=sset,
                ingest=ingest,
                template=c["template"],
                rank=c["rank"],
                start=c["start"],
                end=c["end"],
                duration=c["duration"],
                score=c["score"],
                breakdown=c["breakdown"],
                edl=c["edl"],
                music_offset=c.get("music_offset"),
                music_duration=c.get("music_duration"),
                params=c.get("params") or {},
            )
            for c in result.clips
        ]
        ClipModel.objects.bulk_create(models)
    return list(sset.clip_models.order_by("rank"))


def suggestions_recompute(*, ingest: Any) -> SuggestionSet:
    """New suggestions from the stored analyses and the current profiles (no re-analysis)."""
    from fala_clip.api.errors import ServiceError
    from music.models import MusicAnalysis

    if ingest.analysis is None:
        raise ServiceError("not_analyzed", "The video has not been analysed yet.", status_code=409)
    music_analysis = None
    if ingest.music_id:
        music_analysis = MusicAnalysis.objects.filter(asset_id=ingest.music_id).first()
        if music_analysis is None:
            raise ServiceError("music_not_analyzed", "The track has not been analysed yet.", status_code=409)
    suggestions_compute(ingest=ingest, video_analysis=ingest.analysis, music_analysis=music_analysis, reuse=False)
    return SuggestionSet.objects.get(ingest=ingest, is_current=True)
