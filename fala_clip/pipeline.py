"""The clip pipeline: ingest → analyse (video, music) → suggest → render → deliver.

This is the composition root of the domain apps: the only place (with
``urls.py`` and the ``clip`` command) that imports video, music, suggestions
and rendering together.  The domain apps never import it.

Each step stores its result (ingest fields, analysis rows, suggestions, each
rendered variant), so a retried job resumes after the last stored step.  The
same code runs on the heavy RQ worker and in-process (``manage.py clip``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from fala_clip.diskspace import is_disk_full
from fala_clip.media.uploads import file_sha256
from fala_clip.media.workspace import Workspace, workspace_for
from fala_clip.scrub import scrub_text
from fala_clip.storage import delete_stored, local_copy, storage_key, store_file
from jobs.errors import DiskFull, JobError, RetryableJobError
from jobs.models import JobStatus
from jobs.runner import JobContext
from learning.copywriting import clip_models_write_copy
from music.jobs import (
    BackgroundMusicAnalysis,
    analyze_music_asset,
    music_analysis_kwargs,
    music_child_discard,
    music_child_prewarm,
    music_local_copy,
    music_result_save,
)
from music.models import MusicAnalysis
from rendering.services import (
    LoudnessAhead,
    loudness_ahead_start,
    music_prefetch,
    render_all_variants,
    render_variants_abandon,
)
from suggestions.services import suggestions_compute
from video.analysis.contracts import PIPELINE_VERSION
from video.models import VideoAnalysis, VideoIngest
from video.services import video_analysis_save, video_limits

log = logging.getLogger(__name__)


def warm_modules_in_background() -> threading.Thread | None:
    """Import ``PIPELINE_WARM_MODULES`` in a low-priority thread (:mod:`fala_clip.media.warmup`).

    Called once the analysis decode's ffmpeg runs, not before: the thread holds the GIL while
    it imports, and at its niceness the OS may leave it off the CPU with the GIL held, so the
    main thread's last steps before the decode (the stage's database write, ffmpeg's spawn)
    waited for it -- 0.21 and 0.27 s between the ``probe`` and ``decode`` stages in two of
    three W5 runs, 8 ms in the third.  Once ffmpeg runs, the main thread mostly waits on its
    pipes.  Returns the thread (None: nothing to import).
    """
    if not settings.PIPELINE_WARM_MODULES:
        return None
    from fala_clip.media.warmup import warm_in_background

    return warm_in_background(settings.PIPELINE_WARM_MODULES)


def clip_pipeline(ctx: JobContext) -> None:
    """RQ entry point of the clip pipeline (heavy queue; ``JOB_HANDLERS['clip_pipeline']``)."""
    run_clip_pipeline(ctx)


def run_clip_pipeline(ctx: JobContext) -> None:
    ingest = VideoIngest.objects.select_related("music").get(pk=ctx.job.params["video_id"])
    ws = workspace_for(ctx.job.pk).create()
    if music_child_wanted(ingest):
        # its imports run while the source is fetched and probed (a no-op when made already:
        # the clip command makes it before it stores the inputs)
        music_child_prewarm()
    try:
        path = step_ingest(ctx, ingest, ws)
        background = step_start_music(ctx, ingest, ws)
    finally:
        music_child_discard()  # one no analysis took (the track was analysed meanwhile, a failure)
    try:
        analysis = step_analyze_video(
            ctx,
            ingest,
            path,
            on_decoded=background[1].start if background else None,
            work_dir=ws.root,
            music_importing=background is not None and not background[1].prewarmed,
            on_decode_started=warm_modules_in_background,
        )
    except BaseException:
        if background is not None:
            background[1].cancel()
        raise
    music_analysis = step_ensure_music(ctx, ingest, ws, background) if ingest.music_id else None
    with ctx.stage("suggesting"):
        clip_models = suggestions_compute(
            ingest=ingest, job=ctx.job, video_analysis=analysis, music_analysis=music_analysis
        )
        # Titles and post texts: the LLM's when configured (metered), else the local ones again
        # in the artist's feedback language; an LLM failure keeps the local text, never fails the job.
        clip_models_write_copy(clip_models=clip_models, user=ingest.owner, job=ctx.job)
    ctx.result(video_id=str(ingest.pk), suggestions_url=f"/videos/{ingest.pk}/suggestions")
    if not clip_models:
        ctx.log("no clip model could be proposed for this source; nothing to render")
        return
    # The renders' loudness measurements start now, in a low-priority thread, and run while the
    # previews are made and each earlier variant encodes (rendering.services.LoudnessAhead).
    ahead = loudness_ahead_start(
        job=ctx.job, ingest=ingest, analysis=analysis, clip_models=clip_models, source_path=path, workspace=ws
    )
    try:
        step_previews(ctx, ingest, analysis, clip_models, path, ws)
        if ctx.job.status != JobStatus.RENDERING:  # resumed in place after a lost database: already there
            ctx.transition(JobStatus.RENDERING, stage="rendering_variant")
        _render(ctx, ingest, analysis, clip_models, path, ws, ahead)
    finally:
        ahead.close()
    ctx.result(renders_url=f"/videos/{ingest.pk}/renders")
    step_previews_missing(ctx, ingest, analysis, clip_models, path, ws)


def _render(
    ctx: JobContext,
    ingest: VideoIngest,
    analysis: Any,
    clip_models: list[Any],
    path: Path,
    ws: Workspace,
    ahead: LoudnessAhead,
) -> None:
    try:
        render_all_variants(
            ctx=ctx,
            ingest=ingest,
            analysis=analysis,
            clip_models=clip_models,
            source_path=path,
            workspace=ws,
            ahead=ahead,
        )
    except Exception as exc:
        from fala_clip.dbretry import connection_lost

        if not connection_lost(exc):  # a lost database resumes in place: the variants go on
            code = exc.code if isinstance(exc, JobError) else type(exc).__name__
            try:
                render_variants_abandon(job=ctx.job, code=code)
            except Exception:  # the job's failure matters more than the bookkeeping
                log.exception("could not mark the unrendered variants of job %s", ctx.job.pk)
        raise


def step_previews(
    ctx: JobContext,
    ingest: VideoIngest,
    analysis: VideoAnalysis,
    clip_models: list[Any],
    path: Path,
    ws: Workspace,
    *,
    video: bool | None = None,
    stage: str = "previews",
) -> None:
    """A contact sheet per clip model before the full renders, and its 6-s low-resolution video
    with it (``video``; default: ``PREVIEW_VIDEO=ahead``) -- with ``PREVIEW_VIDEO=render`` the
    video is a second output of the clip's render.

    Best effort: a failure is logged on the job and the pipeline goes on to render.
    """
    from rendering.previews import clip_previews_build_all, preview_video_mode

    if video is None:
        video = preview_video_mode() == "ahead"
    with ctx.stage(stage):
        try:
            summary = clip_previews_build_all(
                ctx=ctx,
                ingest=ingest,
                analysis=analysis,
                clip_models=clip_models,
                source_path=path,
                workspace=ws,
                video=video,
            )
        except Exception as exc:  # never fails the job: the renders are what the artist waits for
            if is_disk_full(exc):
                raise DiskFull() from exc  # the renders would meet the same full disk: stop now
            log.warning("previews failed for video %s", ingest.pk, exc_info=True)
            ctx.log(f"previews failed: {type(exc).__name__}: {scrub_text(str(exc))[:300]}")
            return
    ctx.log(
        f"previews: {summary['made']} made, {summary['skipped']} kept, {summary['failed']} failed",
        seconds=summary["seconds"],
    )
    if summary["made"] or summary["skipped"]:
        ctx.result(previews_url=f"/videos/{ingest.pk}/previews")


def step_previews_missing(
    ctx: JobContext, ingest: VideoIngest, analysis: VideoAnalysis, clip_models: list[Any], path: Path, ws: Workspace
) -> None:
    """After the renders (``PREVIEW_VIDEO=render``): previews the renders did not make -- a variant
    rendered before a retry, a preview that could not be stored -- made the separate way."""
    from rendering.previews import clip_previews_missing_video, preview_video_mode

    if preview_video_mode() != "render":
        return
    missing = clip_previews_missing_video(clip_models)
    if missing:
        step_previews(ctx, ingest, analysis, missing, path, ws, video=True, stage="previews_missing")


def step_ingest(ctx: JobContext, ingest: VideoIngest, ws: Workspace) -> Path:
    """A local path of the source; downloads URL sources once, then stores them."""
    from fala_clip.media.probe import MediaRejected, gate_video

    if ingest.file:
        with ctx.stage("fetching"):
            return local_copy(ingest.file, ws.videos, "source" + Path(ingest.file).suffix)
    if ingest.source == VideoIngest.Source.UPLOAD:
        # purged by retention (purge_media): nothing to fetch again
        raise JobError("source_purged", "The uploaded video was removed by the retention policy; upload it again.")
    from video.download import DownloadRefused, download

    with ctx.stage("downloading"):
        try:
            path = download(
                ingest.source_url,
                ws.videos,
                max_bytes=settings.VIDEO_MAX_BYTES,
                max_duration_s=settings.VIDEO_MAX_DURATION_S,
                timeout_s=settings.DOWNLOAD_TIMEOUT_S,
                allow_hosts=tuple(settings.DOWNLOAD_ALLOW_HOSTS),
            )
        except DownloadRefused as exc:
            if exc.code in ("timeout", "download_failed"):
                raise RetryableJobError(exc.code, exc.message) from exc
            raise JobError(exc.code, exc.message) from exc
    with ctx.stage("probing"):
        try:
            meta = gate_video(path, video_limits())
        except MediaRejected as exc:
            raise JobError(exc.code, exc.message) from exc
        sha = file_sha256(path)
        ext = "mkv" if "matroska" in meta["format"] else "mp4"
        name = store_file(path, storage_key("videos", ingest.owner_id, ingest.pk, f"original.{ext}"))
        try:
            VideoIngest.objects.filter(pk=ingest.pk).update(
                sha256=sha,
                file=name,
                size_bytes=path.stat().st_size,
                duration=meta["duration"],
                probe=meta,
                file_purged_at=None,  # a purged URL source is simply downloaded again
            )
        except Exception:
            # No row points at the stored copy: remove it so storage holds nothing orphaned
            # (the retried attempt downloads and stores again).
            delete_stored(name)
            raise
        ingest.refresh_from_db()
    return path


def early_analysis(*, beside_music: bool) -> bool:
    """Whether the video analysis runs faces' pass one and the saliency during the decode
    (``VIDEO_EARLY_ANALYSIS``; ``beside_music``: a track's analysis child imports its libraries
    during the decode -- one spawned ahead, ``MUSIC_ANALYSIS_PREWARM``, has imported them before)."""
    mode = settings.VIDEO_EARLY_ANALYSIS
    cores = os.cpu_count() or 1
    return mode == "on" or (mode == "auto" and cores >= 2 and (cores >= 4 or not beside_music))


def step_analyze_video(
    ctx: JobContext,
    ingest: VideoIngest,
    path: Path,
    on_decoded: Callable[[], None] | None = None,
    work_dir: Path | None = None,
    music_importing: bool | None = None,
    on_decode_started: Callable[[], object] | None = None,
) -> VideoAnalysis:
    """Analyse once per (owner, sha256): a resubmitted file reuses the cached analysis.

    ``on_decoded``: called once the decode has ended (the first step after it
    starts), e.g. to let a deferred background music analysis begin.
    ``on_decode_started``: called once the decode's ffmpeg runs (the analysis reused: never).
    ``work_dir``: the job's workspace, where the decode keeps its samples and
    soundtrack on disk while the analysers read them.  ``music_importing``: a track's
    analysis child imports its libraries during the decode (default: whenever there is
    ``on_decoded``); it then takes the decode's idle share (:func:`early_analysis`).
    """
    cached = VideoAnalysis.objects.filter(
        owner=ingest.owner, sha256=ingest.sha256, pipeline_version=PIPELINE_VERSION
    ).first()
    if cached is not None:
        VideoIngest.objects.filter(pk=ingest.pk).update(analysis=cached, analysis_reused=True)
        ctx.log("video analysis reused (same file analysed before)", analysis_id=cached.pk)
        return cached
    from video.analysis.pipeline import analyze_video

    if music_importing is None:
        music_importing = on_decoded is not None
    decode_ended = False

    def on_step(name: str) -> None:
        from jobs.services import job_set_stage

        nonlocal decode_ended
        if not decode_ended and name not in ("probe", "decode"):
            decode_ended = True
            if on_decoded is not None:
                on_decoded()
        job_set_stage(job=ctx.job, stage=name)

    try:
        result = analyze_video(
            path,
            shot_detector=settings.SHOT_DETECTOR,
            clip_model=settings.CLIP_MODEL or None,
            face_model=settings.YUNET_MODEL or None,
            whisper_model=settings.WHISPER_MODEL or None,
            whisper_cache_dir=settings.MODEL_CACHE_DIR,
            whisper_threads=settings.WHISPER_CPU_THREADS,
            languages=list(settings.TRANSCRIBE_LANGUAGES),
            decode_threads=settings.VIDEO_DECODE_THREADS,
            skip_loop_filter=settings.VIDEO_DECODE_SKIP_LOOP_FILTER,
            early=early_analysis(beside_music=music_importing),
            threads=settings.VIDEO_EMBED_THREADS,
            on_step=on_step,
            meta=ingest.probe or None,  # gated at submission: no second ffprobe
            work_dir=work_dir,
            on_decode_started=on_decode_started,
        )
    except Exception as exc:
        from fala_clip.media.ffmpeg import FFmpegError

        if isinstance(exc, FFmpegError):
            # The artist sees ffmpeg's last words without our paths; the whole error (command,
            # stderr tail) is in the server log (fala_clip.media.procs) and the job's event.
            raise JobError("corrupt_media", f"The video could not be decoded: {scrub_text(str(exc))}") from exc
        raise
    from jobs.services import job_record_stage_timing

    for step, seconds in (result.get("timings") or {}).items():
        job_record_stage_timing(job=ctx.job, stage=f"video.{step}", seconds=seconds)
    with transaction.atomic():
        analysis = video_analysis_save(owner=ingest.owner, sha256=ingest.sha256, result=result)
        VideoIngest.objects.filter(pk=ingest.pk).update(analysis=analysis, analysis_reused=False)
    return analysis


def music_child_wanted(ingest: VideoIngest) -> bool:
    """Whether the track is to be analysed in a child beside the video analysis (see :func:`step_start_music`)."""
    music = ingest.music
    if music is None or not settings.MUSIC_ANALYSIS_CONCURRENT or (os.cpu_count() or 1) < 2:
        return False
    if MusicAnalysis.objects.filter(asset=music).exists():
        return False
    # the video analysis is reused: nothing to overlap with (unknown before a URL is fetched)
    return not (
        ingest.sha256
        and VideoAnalysis.objects.filter(
            owner=ingest.owner, sha256=ingest.sha256, pipeline_version=PIPELINE_VERSION
        ).exists()
    )


def step_start_music(
    ctx: JobContext, ingest: VideoIngest, ws: Workspace
) -> tuple[Path, BackgroundMusicAnalysis] | None:
    """Start the track's analysis in a child process when it is still to do.

    It then runs during the video decode, whose H.264 decoder leaves part of
    the second core idle (``MUSIC_ANALYSIS_CONCURRENT``; off on one core).
    """
    music = ingest.music
    if music is None or not music_child_wanted(ingest):
        return None
    path = music_local_copy(ctx, music, ws)
    deferred = settings.MUSIC_ANALYSIS_START == "after_decode"
    bg = BackgroundMusicAnalysis(
        path,
        music_analysis_kwargs(music),
        nice=settings.MUSIC_ANALYSIS_NICE,
        idle=settings.MUSIC_ANALYSIS_IDLE,
        deferred=deferred,
    )
    ctx.log(
        "music analysis started beside the video analysis"
        + (" (it analyses once the decode has ended)" if deferred else "")
        + (" (in the child spawned ahead)" if bg.prewarmed else ""),
        music_id=str(music.pk),
    )
    return path, bg


def step_ensure_music(
    ctx: JobContext,
    ingest: VideoIngest,
    ws: Workspace,
    background: tuple[Path, BackgroundMusicAnalysis] | None = None,
) -> Any:
    """The track's analysis; analysed here when its own job has not run yet.

    Both jobs live on the one heavy queue, so this never runs two analyses at
    once; the track's own job later finds the stored analysis and stops.
    ``background``: the analysis :func:`step_start_music` started; its result
    is saved here (unless the track's own job stored one meanwhile).
    """
    music = ingest.music
    assert music is not None
    if background is not None:
        with ctx.stage("analyzing_music"):
            try:  # this thread would only wait: the renders' probe of the track, made now
                music_prefetch(ingest=ingest)
            except Exception:  # only a head start: the render asks again and says what failed
                log.warning("could not probe the track ahead of the renders", exc_info=True)
            result = background[1].result()
            existing = MusicAnalysis.objects.filter(asset=music).first()
            if existing is not None:
                return existing
            return music_result_save(ctx, music, background[0], result)
    existing = MusicAnalysis.objects.filter(asset=music).first()
    if existing is not None:
        return existing
    with ctx.stage("analyzing_music"):
        return analyze_music_asset(ctx, music, ws)
