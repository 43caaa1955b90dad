"""The video analysis as the suggestion engine and the renderer read it (typed contracts).

Produced by :func:`video.analysis.pipeline.analyze_video` (and stored in the
``video_analysis`` row); :meth:`video.models.VideoAnalysis.as_engine_input`
hands the stored JSON back as a :class:`VideoAnalysisInput`.  TypedDicts over
the stored JSON: no conversion on the way in or out of the database.

Coordinates of face boxes are normalised to the frame (0..1); times are
source seconds.  The embedding vectors are *not* part of the engine input:
no feature reads them (the novelty curve is computed from them by the
analyser), and a 5-minute source carries 900 x 1280 numbers.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "AudioOnset",
    "Cut",
    "EmbeddingsInfo",
    "FaceSample",
    "Impact",
    "Shot",
    "Timeline",
    "VideoAnalysisInput",
    "VideoAnalysisResult",
    "VideoMeta",
]


class VideoMeta(TypedDict, total=False):
    """What the ffprobe gate and the decoder say about the source (after auto-rotation)."""

    duration: float
    fps: float
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    has_audio: bool
    nb_frames: int | None
    rotation: int
    sample_aspect_ratio: str


class Shot(TypedDict):
    start: float
    end: float
    start_frame: int
    end_frame: int
    transition_in: str | None
    black: NotRequired[bool]


class Cut(TypedDict):
    time: float
    frame: int
    kind: Literal["hard", "gradual"]
    score: float
    span: list[int]


class Timeline(TypedDict, total=False):
    """Per-``hop_s`` curves, all 0..1 except ``faces`` (face counts per second)."""

    hop_s: float
    seconds: int
    motion: list[float]
    audio_energy: list[float]
    speech: list[float]
    novelty: list[float]
    faces: list[int]


class Impact(TypedDict):
    time: float
    strength: float
    kind: NotRequired[Literal["visual", "audio", "audiovisual"]]


class AudioOnset(TypedDict):
    time: float
    strength: float


class FaceSample(TypedDict):
    """Face boxes seen at ``time``: ``[x, y, w, h, score]``, normalised 0..1."""

    time: float
    boxes: list[list[float]]


class EmbeddingsInfo(TypedDict):
    model: str | None
    dim: int
    count: int
    times: list[float]
    vectors: NotRequired[list[list[float]]]


class VideoAnalysisInput(TypedDict, total=False):
    """What the suggestion engine reads.  Every key may be missing (a partial analysis)."""

    meta: VideoMeta
    shots: list[Shot]
    cuts: list[Cut]
    timeline: Timeline
    impacts: list[Impact]
    audio_onsets: list[AudioOnset]
    faces: list[FaceSample]


class VideoAnalysisResult(TypedDict):
    """What :func:`~video.analysis.pipeline.analyze_video` returns (stored as one row)."""

    meta: VideoMeta
    shots: list[Shot]
    cuts: list[Cut]
    timeline: Timeline
    impacts: list[Impact]
    audio_onsets: list[AudioOnset]
    faces: list[FaceSample]
    embeddings: EmbeddingsInfo
    timings: dict[str, float]
    versions: dict[str, dict[str, object]]
