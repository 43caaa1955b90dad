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

from typing import Any, Literal, NotRequired, TypedDict, get_args

__all__ = [
    "PIPELINE_VERSION",
    "DEFAULT_REFRAME",
    "LEGACY_REFRAME",
    "REFRAME_MODES",
    "REFRAME_CHOICES",
    "ReframeMode",
    "clean_reframe",
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


#: Bumped when the analysis gains or changes a part: a cached analysis of an older version is
#: recomputed (not reused) the next time its file is submitted.  2: saliency, blanks/fades,
#: fine speech activity, the source's transcript.  (``VideoAnalysis.pipeline_version``'s default
#: follows it: bumping it needs an AlterField migration.)
PIPELINE_VERSION = "2"

#: How a 16:9 (or any) source becomes the output frame:
#: ``auto`` — per segment: crop around the faces, else around the salient subject
#: (``result["saliency"]``), else fit the whole frame when the important content is wider than
#: the window (text across the frame, subjects far apart); ``faces`` — crop around the faces
#: (the frame centre where none is seen); ``center`` — crop the middle of the frame; ``fit`` —
#: the whole frame scaled to the output width over a blurred fill.
ReframeMode = Literal["auto", "faces", "center", "fit"]
REFRAME_MODES: tuple[ReframeMode, ...] = get_args(ReframeMode)
DEFAULT_REFRAME: ReframeMode = "auto"
#: Values stored by earlier versions (profile snapshots, clip params, upload options) and what they
#: mean now: ``face`` was the profiles' spelling; ``saliency`` was offered before it existed and now
#: is what ``auto`` does; ``letterbox`` is ``fit``.
LEGACY_REFRAME: dict[str, ReframeMode] = {"face": "faces", "saliency": "auto", "letterbox": "fit"}
#: Everything an upload option or a stored param may say (the modes and the legacy spellings).
REFRAME_CHOICES: tuple[str, ...] = (*REFRAME_MODES, *LEGACY_REFRAME)


def clean_reframe(value: Any) -> ReframeMode | None:
    """A reframe mode from a stored/submitted value (legacy spellings mapped); None if not one."""
    if isinstance(value, str):
        value = LEGACY_REFRAME.get(value, value)
        for mode in REFRAME_MODES:
            if value == mode:
                return mode
    return None


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
    saliency: dict[str, Any]  # see video/analysis/saliency.py
    blanks: list[dict[str, Any]]  # [{start, end, kind}] black/blank frames and fades
    speech_activity: dict[str, Any]  # {hop_s, values}: fine speech probability
    transcript: dict[str, Any]  # {language, words: [{start, end, word}]}


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
    saliency: NotRequired[dict[str, Any]]
    blanks: NotRequired[list[dict[str, Any]]]
    speech_activity: NotRequired[dict[str, Any]]
    transcript: NotRequired[dict[str, Any]]
    pipeline_version: NotRequired[str]
    timings: dict[str, float]
    versions: dict[str, dict[str, object]]
