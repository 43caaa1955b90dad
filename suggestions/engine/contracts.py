"""What the suggestion engine reads and writes (typed contracts), and the reframe vocabulary.

* Inputs: :class:`~video.analysis.contracts.VideoAnalysisInput` and
  :class:`~music.analysis.contracts.MusicAnalysisInput` (owned by their
  producers, re-exported here).
* Output: :class:`ClipModelSpec` — one clip model with its edit decision
  list; the renderer (``rendering.engine``) reads the same type.
* :data:`ReframeMode` — the one vocabulary of the upload option
  (``video.serializers``), the profiles' ``reframe`` param and the renderer.
  It lives with the video contracts (the lowest layer the upload, the engine
  and the renderer all import) and is re-exported here.

TypedDicts over JSON: the engine's output is stored as-is in
``video_clip_models`` and read back without conversion.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from music.analysis.contracts import MusicAnalysisInput
from video.analysis.contracts import (
    DEFAULT_REFRAME,
    LEGACY_REFRAME,
    REFRAME_MODES,
    ReframeMode,
    VideoAnalysisInput,
    clean_reframe,
)

__all__ = [
    "DEFAULT_REFRAME",
    "LEGACY_REFRAME",
    "REFRAME_MODES",
    "ClipModelSpec",
    "EdlSegment",
    "MusicAnalysisInput",
    "ReframeMode",
    "TemplateName",
    "VideoAnalysisInput",
    "clean_reframe",
]

TemplateName = Literal["highlight", "beat_montage", "hook"]


class EdlSegment(TypedDict):
    """One cut: source ``[src_in, src_out)`` placed at output time ``position``."""

    src_in: float
    src_out: float
    position: float
    duration: float


class ClipModelSpec(TypedDict):
    """One proposed clip (``SuggestionResult.clips``; ``ClipModel.as_engine_clip()``).

    ``params`` holds the template's style params (``reframe``: a :data:`ReframeMode`,
    ``target_length_s``, …) and what the template did (snapping, cut source, …).
    ``music_offset`` / ``music_duration`` are None when the clip keeps the original audio.
    ``score`` and ``breakdown`` (feature → contribution, summing to ``score``) come from the
    engine; the renderer does not need them.
    """

    template: str
    rank: int
    start: float
    end: float
    duration: float
    edl: list[EdlSegment]
    music_offset: float | None
    music_duration: float | None
    params: dict[str, Any]
    score: NotRequired[float]
    breakdown: NotRequired[dict[str, float]]
    feature_values: NotRequired[dict[str, float]]  # feature → mean value 0..1 over the clip
