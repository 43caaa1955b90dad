"""Rendering the clip models of a job, strictly one after another.

Each variant: one ffmpeg run from its edit decision list, progress parsed
into the job, A/V sync verified, the file stored in Django storage as soon as
it is done (with ``PREVIEW_VIDEO=render``, the same run writes the clip's
preview video, stored beside it).  A retried job skips the variants already stored.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from fala_clip import telemetry
from fala_clip.diskspace import DISK_FULL_MESSAGE, is_disk_full
from fala_clip.media.workspace import Workspace
from fala_clip.storage import local_copy, storage_key, store_file
from jobs.errors import DiskFull, JobError
from jobs.services import job_record_stage_timing
from rendering.engine.reframe import Reframe, reframe_for_clip
from rendering.models import RenderedVariant
from rendering.previews import clip_preview_attach_video, preview_output_for

log = logging.getLogger(__name__)

#: Seconds of a page/word are kept to the millisecond in the stored plan and captions.
_ND = 3

ASPECT_SIZES = {"9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350)}


def render_settings(options: dict[str, Any], reframe: Reframe) -> dict[str, Any]:
    """The renderer's settings for one variant (``reframe``: see :func:`reframe_for_clip`)."""
    width, height = ASPECT_SIZES[options.get("aspect", "9:16")]
    return {
        "width": width,
        "height": height,
        "mode": reframe.render_mode,
        "preset": settings.RENDER_PRESET,
        "crf": settings.RENDER_CRF,
        "gop_seconds": settings.RENDER_GOP_SECONDS,
        "threads": settings.RENDER_THREADS or None,
        "loudness_target": settings.RENDER_LOUDNESS_LUFS,
    }


def captions_enabled(options: dict[str, Any]) -> bool:
    """Captions are burned in unless the upload option ``captions`` or the ``RENDER_CAPTIONS`` setting says no."""
    return bool(options.get("captions", True)) and bool(getattr(settings, "RENDER_CAPTIONS", True))


def caption_words(
    ingest: Any, analysis: Any, audio: str
) -> tuple[list[tuple[float, float, str]], str | None, str, str | None]:
    """``(words, clock, source, language)`` a variant is captioned from, by what it plays.

    ``audio`` (the plan's): ``"source"`` → the source's transcript (source clock);
    ``"music"`` → the track's lyrics words (track clock), none when it has no lyrics;
    ``"silent"`` → nothing.
    """
    from rendering.engine.captions import words_from_lyrics, words_from_transcript

    if audio == "source":
        tr = getattr(analysis, "transcript", None) or {}
        return words_from_transcript(tr), "source", "speech", tr.get("language")
    if audio == "music" and ingest.music_id:
        from django.core.exceptions import ObjectDoesNotExist

        try:
            ma = ingest.music.analysis
        except ObjectDoesNotExist:
            return [], None, "lyrics", None
        tr = ma.transcription or {}
        return words_from_lyrics(tr), "music", "lyrics", tr.get("language") or ma.language or None
    return [], None, "none", None


def compact_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """What a rendered file is made of, from ``RenderResult.plan``: per segment the source span, the
    output position and length, the layout and the crop window (constant or its path); the music offset."""

    def r(x: Any) -> Any:
        return None if x is None else round(float(x), _ND)

    segs = []
    for seg in plan.get("segments") or []:
        item: dict[str, Any] = {
            "src_in": r(seg.get("src_in")),
            "src_out": r(seg.get("src_out")),
            "position": r(seg.get("position")),
            "duration": r(seg.get("duration")),
            "layout": seg.get("layout") or ("crop" if seg.get("crop_x") is not None else "fit"),
        }
        if seg.get("framing"):
            item["framing"] = seg["framing"]
        if seg.get("crop_x") is not None:
            item["crop"] = {
                "x": seg["crop_x"],
                "y": seg.get("crop_y"),
                "w": plan.get("crop_w"),
                "h": plan.get("crop_h"),
            }
        if seg.get("crop_path"):
            item["crop_path"] = {"axis": seg.get("crop_axis"), "knots": [[r(t), int(o)] for t, o in seg["crop_path"]]}
        segs.append(item)
    return {
        "duration": r(plan.get("duration")),
        "fps": plan.get("fps"),
        "width": plan.get("width"),
        "height": plan.get("height"),
        "source_size": [plan.get("source_width"), plan.get("source_height")],
        "audio": plan.get("audio"),
        "music_offset": r(plan.get("music_offset")),
        "music_length": r(plan.get("music_length")),
        "segments": segs,
    }


def _build_captions(
    *,
    ingest: Any,
    analysis: Any,
    clip: Any,
    meta: dict,
    st: dict[str, Any],
    music: bool,
    workspace: Workspace,
    index: int,
) -> tuple[dict[str, str] | None, dict[str, Any], Any]:
    """``(captions for render_variant or None, the RenderedVariant.captions record, the track)``.

    The caption clock only needs the plan's timing (segments, music offset), which framing does
    not change: the plan is recomputed here without faces or saliency (pure arithmetic).
    """
    from rendering.engine import plan_render
    from rendering.engine.captions import CaptionError, build_captions, write_captions

    plan = plan_render(clip, meta, st, music=music)
    words, clock, source, language = caption_words(ingest, analysis, plan.audio)
    if clock is None or not words:
        why = {"speech": "no speech in the source", "lyrics": "the track has no lyrics"}.get(source, "no audio")
        return None, {"enabled": True, "source": source, "words": [], "reason": why}, None
    try:
        track = build_captions(words, plan, clock=clock, source=source, language=language)
    except CaptionError as exc:
        log.error("captions skipped: %s", exc)
        return None, {"enabled": True, "source": source, "words": [], "error": str(exc)}, None
    if not track.pages:
        return None, {**track.summary(), "enabled": True, "reason": "no word inside the clip"}, track
    paths = write_captions(track, workspace.processed, f"variant-{index}")
    return paths, {**track.summary(), "enabled": True}, track


def clip_music_path(clip_model: Any, music_path: str | None) -> str | None:
    """The track file for this clip model's render: only when it is cut to the music."""
    return music_path if music_path and clip_model.music_offset is not None else None


class _VariantProgress:
    """ffmpeg progress → the job's progress (and event log), throttled; 100 always written."""

    def __init__(self, ctx: Any, *, index: int, completed: int, total: int):
        self.ctx, self.index, self.completed, self.total = ctx, index, completed, total
        self.last_t, self.last_p = 0.0, -1.0

    def __call__(self, percent: float) -> None:
        now = time.monotonic()
        if percent >= 100.0 or (percent - self.last_p >= 2.0 and now - self.last_t >= 0.5):
            self.last_t, self.last_p = now, percent
            self.ctx.progress(
                rendering_variant=self.index,
                completed_variants=self.completed,
                total_variants=self.total,
                percent=round(percent, 1),
                log_event=True,
            )


def render_all_variants(
    *,
    ctx: Any,
    ingest: Any,
    analysis: Any,
    clip_models: list[Any],
    source_path: Path,
    workspace: Workspace,
    ahead: LoudnessAhead | None = None,
) -> None:
    """Render every clip model in rank order; the job is done when all are stored.

    ``ahead``: :func:`loudness_ahead_start`'s measurements, started earlier by the caller (which
    then closes it); without it the renders start their own.
    """
    total = len(clip_models)
    rows = []
    for i, cm in enumerate(clip_models, start=1):
        row, _ = RenderedVariant.objects.get_or_create(
            job=ctx.job, clip_model=cm, defaults={"ingest": ingest, "index": i}
        )
        rows.append(row)
    completed = sum(1 for r in rows if r.status == RenderedVariant.Status.DONE)
    ctx.progress(
        rendering_variant=None, completed_variants=completed, total_variants=total, percent=0.0, log_event=True
    )
    own = ahead is None
    if ahead is None:
        ahead = loudness_ahead_start(
            job=ctx.job, ingest=ingest, analysis=analysis, clip_models=clip_models, source_path=source_path,
            workspace=workspace,
        )  # fmt: skip
    try:
        completed = _render_rows(
            ctx=ctx, ingest=ingest, analysis=analysis, rows=rows, source_path=source_path, workspace=workspace,
            music_path=ahead.music_path, ahead=ahead, completed=completed,
        )  # fmt: skip
    finally:
        if own:
            ahead.close()
    ctx.progress(rendering_variant=None, completed_variants=completed, total_variants=total, percent=100.0)


def _music_path(ingest: Any, workspace: Workspace) -> str | None:
    if not ingest.music_id:
        return None
    return str(local_copy(ingest.music.file, workspace.videos, "music" + Path(ingest.music.file).suffix))


def music_prefetch(*, ingest: Any) -> None:
    """The track's duration (ffprobe, remembered per file), asked ahead.

    The pipeline calls it while it waits for the track's analysis anyway: the first loudness
    measurement, which the first render waits for, then starts without its ~0.1-s probe.  Only
    where the stored track is the local file the renders read (the filesystem backend): a remote
    one is copied into the workspace once, by :func:`loudness_ahead_start`, not twice.
    """
    from fala_clip.storage import stored_local_path
    from rendering.engine import probe_duration

    path = stored_local_path(ingest.music.file) if ingest.music_id else None
    if path is not None:
        probe_duration(str(path))


def loudness_ahead_start(
    *, job: Any, ingest: Any, analysis: Any, clip_models: list[Any], source_path: Path, workspace: Workspace
) -> LoudnessAhead:
    """Start measuring the loudness of every clip model's render not done yet, in rank order.

    Call :meth:`LoudnessAhead.close` when the renders are over (or failed).  With
    ``RENDER_LOUDNESS_AHEAD`` off nothing is measured ahead and each render measures its own.
    """
    music_path = _music_path(ingest, workspace)
    done = set(
        RenderedVariant.objects.filter(job=job, status=RenderedVariant.Status.DONE).values_list(
            "clip_model_id", flat=True
        )
    )
    options = ingest.options or {}
    jobs = (
        [
            (cm.pk, _loudness_inputs(cm, i, options, analysis, source_path, music_path, workspace))
            for i, cm in enumerate(clip_models, start=1)
            if cm.pk not in done
        ]
        if settings.RENDER_LOUDNESS_AHEAD
        else []
    )
    return LoudnessAhead.start(jobs, music_path=music_path)


def _loudness_inputs(
    cm: Any,
    index: int,
    options: dict[str, Any],
    analysis: Any,
    source_path: Path,
    music_path: str | None,
    workspace: Workspace,
) -> dict[str, Any]:
    """:func:`rendering.engine.measure_variant_loudness`'s arguments for a clip model: what its render gets."""
    reframe = reframe_for_clip(options.get("reframe"), cm.params)
    return {
        "source": str(source_path),
        "clip": cm.as_engine_clip(),
        "out_path": str(workspace.processed / f"variant-{index}.ahead.mp4"),
        "meta": analysis.meta,
        "music": clip_music_path(cm, music_path),
        "faces": reframe.faces(analysis.faces),
        "saliency": reframe.saliency(analysis.saliency),
        "settings": render_settings(options, reframe),
    }


class LoudnessAhead:
    """Each variant's loudness measurement (pass one), made in render order by one background thread.

    Started by the pipeline right after the suggestions, so it also runs while the previews are
    made (mostly single-threaded).  The pass is single-threaded and an encode leaves part of a
    core idle (W5: the renders ran at ~86 % of the two cores), so while variant *n* encodes the
    next variants' audio is measured and their renders skip that step.  After the first
    measurement the thread runs at niceness +:data:`AHEAD_NICE` (its ffmpeg children inherit
    it): it takes idle CPU, not the encode's.  The first one runs at the job's own priority: the
    first render waits for it (with ``PREVIEW_VIDEO=render`` nothing but the contact sheets runs
    beside it; W5: ~1.2 s).  A failed measurement is
    not an error here: that render measures for itself (and reports what failed).
    """

    AHEAD_NICE = 10

    def __init__(self, jobs: list[tuple[Any, dict[str, Any]]], music_path: str | None = None) -> None:
        self.music_path = music_path  # the local track the measurements read (the renders use it too)
        self._jobs = jobs
        self._results: dict[Any, Future[dict[str, Any] | None]] = {pk: Future() for pk, _ in jobs}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, jobs: list[tuple[Any, dict[str, Any]]], music_path: str | None = None) -> LoudnessAhead:
        ahead = cls(jobs, music_path)
        if jobs:
            ahead._thread = threading.Thread(target=ahead._run, name="loudness-ahead", daemon=True)
            ahead._thread.start()
        return ahead

    def _run(self) -> None:
        from rendering.engine import measure_variant_loudness

        for n, (pk, kwargs) in enumerate(self._jobs):
            if n == 1:  # the first render waits for the first measurement: only the later ones yield
                try:
                    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.AHEAD_NICE)
                except OSError:
                    pass
            fut = self._results[pk]
            if self._stop.is_set():
                fut.cancel()
                continue
            try:
                # the first render waits for the first measurement: loudnorm's pass beside the numpy one
                fut.set_result(measure_variant_loudness(**kwargs, eager=n == 0))
            except Exception as exc:  # noqa: BLE001 - the render measures again and reports it
                fut.set_exception(exc)

    def get(self, pk: Any) -> dict[str, Any] | None:
        """The measurement made ahead for this clip model (waits for it), or None: the render measures."""
        fut = self._results.get(pk)
        if fut is None:
            return None
        try:
            return fut.result()
        except Exception as exc:  # noqa: BLE001
            log.info("loudness measured ahead failed (%s); the render measures for itself", type(exc).__name__)
            return None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)


def _render_rows(
    *,
    ctx: Any,
    ingest: Any,
    analysis: Any,
    rows: list[Any],
    source_path: Path,
    workspace: Workspace,
    music_path: str | None,
    ahead: LoudnessAhead,
    completed: int,
) -> int:
    from rendering.engine import RenderError, render_variant

    total = len(rows)
    meta = analysis.meta
    options = ingest.options or {}
    for row in rows:
        if row.status == RenderedVariant.Status.DONE:
            ctx.log(f"variant {row.index} already rendered; skipped")
            continue
        ctx.progress(
            rendering_variant=row.index, completed_variants=completed, total_variants=total, percent=0.0, log_event=True
        )
        # The artist's explicit upload choice, else the clip model's param (from the
        # effective profile), else faces.
        reframe = reframe_for_clip(options.get("reframe"), row.clip_model.params)
        st = render_settings(options, reframe)
        want_captions = captions_enabled(options)
        # The track plays only under the clip models cut to it (hook, beat montage: a music
        # offset); a highlight keeps the source's own sound (and its speech for the captions).
        clip_music = clip_music_path(row.clip_model, music_path)
        RenderedVariant.objects.filter(pk=row.pk).update(
            status=RenderedVariant.Status.RENDERING,
            started_at=timezone.now(),
            settings={**st, "reframe": reframe.mode, "reframe_source": reframe.source, "captions": want_captions},
        )
        t_cap = time.perf_counter()
        cap_paths: dict[str, str] | None = None
        cap_record: dict[str, Any] = {"enabled": False, "reason": "turned off"}
        if want_captions:
            try:
                cap_paths, cap_record, _track = _build_captions(
                    ingest=ingest,
                    analysis=analysis,
                    clip=row.clip_model.as_engine_clip(),
                    meta=meta,
                    st=st,
                    music=bool(clip_music),
                    workspace=workspace,
                    index=row.index,
                )
            except RenderError as exc:  # the EDL is refused: render_variant reports it below
                cap_record = {"enabled": True, "words": [], "error": str(exc)}
        caption_s = time.perf_counter() - t_cap
        on_progress = _VariantProgress(ctx, index=row.index, completed=completed, total=total)
        out = workspace.processed / f"variant-{row.index}.mp4"
        # PREVIEW_VIDEO=render: the clip's preview video is a second output of this encode
        preview = preview_output_for(clip_model=row.clip_model, options=options, out_dir=workspace.processed)
        t0 = time.perf_counter()
        try:
            result = render_variant(
                str(source_path),
                row.clip_model.as_engine_clip(),
                str(out),
                meta=meta,
                music=clip_music,
                faces=reframe.faces(analysis.faces),
                saliency=reframe.saliency(analysis.saliency),
                settings=st,
                on_progress=on_progress,
                captions={"ass": cap_paths["ass"], "fontsdir": cap_paths["fontsdir"]} if cap_paths else None,
                loudness=ahead.get(row.clip_model_id),
                preview=preview,
            )
        except (RenderError, OSError) as exc:
            if preview is not None:
                Path(preview.path).unlink(missing_ok=True)
            _variant_failed(row, exc)
            if is_disk_full(exc):
                log.error("variant %s: disk full: %s", row.index, exc)  # paths stay in the logs
                raise DiskFull() from exc
            if isinstance(exc, OSError):
                raise
            raise JobError(f"render_{exc.code}", f"variant {row.index} ({row.clip_model.template}): {exc}") from exc
        elapsed = time.perf_counter() - t0
        job_record_stage_timing(job=ctx.job, stage=f"render.variant_{row.index}", seconds=elapsed)
        t_store = time.perf_counter()
        try:
            name, cap_record = _store_variant(
                ingest=ingest, job=ctx.job, row=row, out=out, cap_paths=cap_paths, cap_record=cap_record
            )
        except OSError as exc:
            _variant_failed(row, exc)
            out.unlink(missing_ok=True)
            if is_disk_full(exc):
                log.error("variant %s: disk full while storing: %s", row.index, exc)
                raise DiskFull() from exc
            raise
        job_record_stage_timing(job=ctx.job, stage="delivery", seconds=time.perf_counter() - t_store)
        telemetry.RENDERS.labels(row.clip_model.template, "done").inc()
        verify = result.verify or {}
        RenderedVariant.objects.filter(pk=row.pk).update(
            status=RenderedVariant.Status.DONE,
            file=name,
            duration=result.duration,
            width=result.width,
            height=result.height,
            size_bytes=result.size,
            av_offset_s=verify.get("av_offset_s"),
            verify=verify,
            timings={**result.timings, "captions": round(caption_s, 3), "total": round(elapsed + caption_s, 3)},
            plan=compact_plan(result.plan or {}),
            captions=cap_record,
            log=result.log[-200:],
            finished_at=timezone.now(),
        )
        out.unlink(missing_ok=True)
        if cap_paths:
            Path(cap_paths["ass"]).unlink(missing_ok=True)
            shutil.rmtree(cap_paths["fontsdir"], ignore_errors=True)
        if result.preview:
            _attach_preview(ctx, row, result.preview)
        completed += 1
        ctx.progress(
            rendering_variant=row.index,
            completed_variants=completed,
            total_variants=total,
            percent=100.0,
            log_event=True,
        )
    return completed


def _attach_preview(ctx: Any, row: Any, info: dict[str, Any]) -> None:
    """Store the preview video the render wrote; a failure is logged on the job, never fails it
    (the clip gets a preview the separate way after the renders), except a full disk."""
    try:
        clip_preview_attach_video(clip_model=row.clip_model, info=info)
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull() from exc
        log.warning("preview video of clip model %s not stored: %s", row.clip_model_id, exc, exc_info=True)
        code = getattr(exc, "code", type(exc).__name__)
        ctx.log(f"preview of clip model #{row.clip_model.rank} failed: {code}", clip_model_id=row.clip_model_id)


def _store_variant(
    *, ingest: Any, job: Any, row: Any, out: Path, cap_paths: dict[str, str] | None, cap_record: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Store a rendered variant and its caption sidecars; on failure nothing of it stays stored."""
    from fala_clip.storage import delete_stored

    stem = f"variant-{row.index}-{row.clip_model.template}"
    stored: list[str] = []
    try:
        name = store_file(out, storage_key("renders", ingest.owner_id, job.pk, f"{stem}.mp4"))
        stored.append(name)
        if cap_paths:
            for kind in ("srt", "vtt"):
                cap_record[kind] = store_file(
                    Path(cap_paths[kind]), storage_key("renders", ingest.owner_id, job.pk, f"{stem}.{kind}")
                )
                stored.append(cap_record[kind])
                Path(cap_paths[kind]).unlink(missing_ok=True)
    except BaseException:
        for done in stored:
            try:
                delete_stored(done)
            except OSError:
                log.exception("could not remove %s after a failed store", done)
        raise
    return name, cap_record


def _variant_failed(row: Any, exc: BaseException) -> None:
    """Record a variant's failure; a full disk gets a fixed, path-free message (the logs keep the rest)."""
    telemetry.RENDERS.labels(row.clip_model.template, "failed").inc()
    if is_disk_full(exc):
        code, message = "disk_full", DISK_FULL_MESSAGE
    else:
        code, message = str(getattr(exc, "code", "") or "io_error"), str(exc)[:4000]
    RenderedVariant.objects.filter(pk=row.pk).update(
        status=RenderedVariant.Status.FAILED, error_code=code, error_message=message, finished_at=timezone.now()
    )


def render_variants_abandon(*, job: Any, code: str) -> int:
    """The job stops rendering: its variants not rendered yet end ``failed`` (never ``pending`` forever).

    ``code``: why the job stopped (e.g. ``disk_full``).  A retried job renders them
    again (it renders every variant that is not ``done``).  Returns how many were marked.
    """
    return RenderedVariant.objects.filter(
        job=job, status__in=[RenderedVariant.Status.PENDING, RenderedVariant.Status.RENDERING]
    ).update(
        status=RenderedVariant.Status.FAILED,
        error_code="not_rendered",
        error_message=f"Not rendered: the job stopped ({code}).",
        finished_at=timezone.now(),
    )
