"""Rendering the clip models of a job, strictly one after another.

Each variant: one ffmpeg run from its edit decision list, progress parsed
into the job, A/V sync verified, the file stored in Django storage as soon as
it is done.  A retried job skips the variants already stored.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from fala_clip import telemetry
from fala_clip.media.workspace import Workspace
from fala_clip.storage import local_copy, storage_key, store_file
from jobs.errors import JobError
from jobs.services import job_record_stage_timing
from rendering.engine.reframe import Reframe, reframe_for_clip
from rendering.models import RenderedVariant

log = logging.getLogger(__name__)

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
        "loudness_target": settings.RENDER_LOUDNESS_LUFS,
    }


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
    *, ctx: Any, ingest: Any, analysis: Any, clip_models: list[Any], source_path: Path, workspace: Workspace
) -> None:
    """Render every clip model in rank order; the job is done when all are stored."""
    from rendering.engine import RenderError, render_variant

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

    music_path = None
    if ingest.music_id:
        music_path = str(local_copy(ingest.music.file, workspace.videos, "music" + Path(ingest.music.file).suffix))
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
        RenderedVariant.objects.filter(pk=row.pk).update(
            status=RenderedVariant.Status.RENDERING,
            started_at=timezone.now(),
            settings={**st, "reframe": reframe.mode, "reframe_source": reframe.source},
        )
        on_progress = _VariantProgress(ctx, index=row.index, completed=completed, total=total)
        out = workspace.processed / f"variant-{row.index}.mp4"
        t0 = time.perf_counter()
        try:
            result = render_variant(
                str(source_path),
                row.clip_model.as_engine_clip(),
                str(out),
                meta=meta,
                music=music_path,
                faces=reframe.faces(analysis.faces),
                settings=st,
                on_progress=on_progress,
            )
        except RenderError as exc:
            RenderedVariant.objects.filter(pk=row.pk).update(
                status=RenderedVariant.Status.FAILED,
                error_code=exc.code,
                error_message=str(exc)[:4000],
                finished_at=timezone.now(),
            )
            telemetry.RENDERS.labels(row.clip_model.template, "failed").inc()
            raise JobError(f"render_{exc.code}", f"variant {row.index} ({row.clip_model.template}): {exc}") from exc
        elapsed = time.perf_counter() - t0
        job_record_stage_timing(job=ctx.job, stage=f"render.variant_{row.index}", seconds=elapsed)
        t_store = time.perf_counter()
        name = store_file(
            out,
            storage_key("renders", ingest.owner_id, ctx.job.pk, f"variant-{row.index}-{row.clip_model.template}.mp4"),
        )
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
            timings={**result.timings, "total": round(elapsed, 3)},
            log=result.log[-200:],
            finished_at=timezone.now(),
        )
        out.unlink(missing_ok=True)
        completed += 1
        ctx.progress(
            rendering_variant=row.index,
            completed_variants=completed,
            total_variants=total,
            percent=100.0,
            log_event=True,
        )
    ctx.progress(rendering_variant=None, completed_variants=completed, total_variants=total, percent=100.0)
