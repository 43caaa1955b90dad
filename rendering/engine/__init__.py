"""fala-clip rendering engine: EDL -> one ffmpeg run per variant, verified.

Plain Python, no Django imports, so it can be driven by the job runner, the
``clip`` management command, tests and benchmarks alike.
"""

from .errors import RenderError
from .graph import (
    DEFAULT_SETTINGS,
    PreviewOutput,
    RenderPlan,
    Segment,
    build_command,
    build_loudness_command,
    plan_render,
    preview_frames,
)
from .run import RenderResult, measure_variant_loudness, probe_duration, render_variant
from .verify import loudness_stats, measure_loudness, moov_before_mdat, top_level_atoms, verify_output

__all__ = [
    "DEFAULT_SETTINGS",
    "PreviewOutput",
    "RenderError",
    "RenderPlan",
    "RenderResult",
    "Segment",
    "build_command",
    "build_loudness_command",
    "loudness_stats",
    "measure_variant_loudness",
    "measure_loudness",
    "moov_before_mdat",
    "plan_render",
    "preview_frames",
    "probe_duration",
    "render_variant",
    "top_level_atoms",
    "verify_output",
]
