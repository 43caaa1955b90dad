"""RQ entry point of the clip pipeline (heavy queue)."""

from __future__ import annotations

from jobs.runner import JobContext
from video.pipeline import run_clip_pipeline


def clip_pipeline(ctx: JobContext) -> None:
    run_clip_pipeline(ctx)
