"""RQ entry point of the music analysis (heavy queue): load rows, call services."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings

from fala_clip.media.workspace import Workspace, workspace_for
from fala_clip.storage import local_copy
from jobs.errors import JobError
from jobs.runner import JobContext
from jobs.services import job_record_stage_timing, job_set_stage
from music.models import MusicAnalysis, MusicAsset
from music.services import genre_infer, music_analysis_save

log = logging.getLogger(__name__)


def analyze_music(ctx: JobContext) -> None:
    """Analyse a track once; a retried job whose analysis exists does nothing."""
    asset = MusicAsset.objects.get(pk=ctx.job.params["music_id"])
    if MusicAnalysis.objects.filter(asset=asset).exists():
        ctx.log("analysis already stored; nothing to do")
        return
    ws = workspace_for(ctx.job.pk).create()
    analysis = analyze_music_asset(ctx, asset, ws)
    ctx.result(music_id=str(asset.pk), analysis_url=f"/music/{asset.pk}/analysis", tempo=analysis.tempo)
    ctx.progress(percent=100.0)


def analyze_music_asset(ctx: JobContext, asset: MusicAsset, ws: Workspace) -> MusicAnalysis:
    """Decode once, run every analyser, infer the genre, store the rows."""
    from music.analysis.decode import AudioDecodeError
    from music.analysis.pipeline import STEPS, analyze_track

    with ctx.stage("fetching_music"):
        path = local_copy(asset.file, ws.videos, "track" + Path(asset.file).suffix)

    def on_step(name: str) -> None:
        job_set_stage(job=ctx.job, stage=name)
        if ctx.job.kind == "music_analysis":
            ctx.progress(percent=round(100 * STEPS.index(name) / (len(STEPS) + 1), 1))

    try:
        result = analyze_track(
            path,
            language=asset.language or None,
            whisper_model=settings.WHISPER_MODEL or None,
            beam_size=settings.WHISPER_BEAM_SIZE,
            whisper_threads=settings.WHISPER_CPU_THREADS,
            model_cache_dir=settings.MODEL_CACHE_DIR,
            on_step=on_step,
        )
    except AudioDecodeError as exc:
        raise JobError("corrupt_media", f"The track could not be decoded: {exc}") from exc
    with ctx.stage("inferring_genre"):
        y16k: Any = None
        if settings.GENRE_MODEL:
            from music.analysis.decode import load_audio

            y16k = load_audio(path, sr=16000)
        audio = (result.get("embeddings") or {}).get("audio")
        genre = genre_infer(asset=asset, audio_vector=audio["vector"] if audio else None, y16k=y16k)
    with ctx.stage("saving_music"):
        analysis = music_analysis_save(asset=asset, result=result, genre=genre)
    prefix = "music." if ctx.job.kind != "music_analysis" else ""
    for step, seconds in (result.get("timings") or {}).items():
        job_record_stage_timing(job=ctx.job, stage=f"{prefix}{step}", seconds=seconds)
    return analysis
