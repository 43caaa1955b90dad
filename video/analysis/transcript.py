"""The source's own speech as words with timestamps (for captions and clean cuts).

Whisper (faster-whisper, int8 CPU; the model set-up, language handling and
hallucination guards are ``music.analysis.transcribe``'s) runs only on the
stretches where the speech detector heard speech: the per-second speech
shares the pipeline's ``speech`` step already computed (Silero VAD) are
turned into spans (:func:`speech_spans`), padded and merged by
:func:`music.analysis.transcribe.vocal_spans`.  A source with no speech gets
an empty transcript without the model ever being loaded, so silent or
music-only sources cost nothing here.

Result (``VideoAnalysis.transcript``)::

    {"language": "pt" | None, "language_probability": float,
     "words": [{"start", "end", "word", "probability"}],   # seconds on the source clock
     "segments": [{"start", "end", "text"}],                # whisper's phrases (sentence breaks)
     "text": str, "spans": [[start, end], ...],             # what was transcribed
     "rejected": int, "model": {"name", "version", "params"} | None}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["SPEECH_SHARE_MIN", "empty_transcript", "speech_spans", "transcribe_speech"]

#: A second counts as speech when at least this share of its 32-ms VAD windows is voiced
#: (one short word is ~0.2 s of a second).
SPEECH_SHARE_MIN = 0.1


def empty_transcript(reason: str) -> dict[str, Any]:
    """The transcript of a source with nothing to transcribe (``reason`` says why)."""
    return {
        "language": None,
        "language_probability": 0.0,
        "words": [],
        "segments": [],
        "text": "",
        "spans": [],
        "rejected": 0,
        "model": None,
        "skipped": reason,
    }


def speech_spans(speech_per_second: list[float], *, min_share: float = SPEECH_SHARE_MIN) -> list[list[float]]:
    """Runs of seconds whose speech share is at least ``min_share``, as ``[[start, end], ...]`` seconds."""
    spans: list[list[float]] = []
    for i, share in enumerate(speech_per_second):
        if share < min_share:
            continue
        if spans and spans[-1][1] == float(i):
            spans[-1][1] = float(i + 1)
        else:
            spans.append([float(i), float(i + 1)])
    return spans


def transcribe_speech(
    audio: np.ndarray | None,
    sr: int,
    speech_per_second: list[float],
    *,
    model: str | None = None,
    language: str | None = None,
    beam_size: int | None = None,
    cpu_threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Transcribe the speech of a 16-kHz mono soundtrack; see the module docstring for the result.

    ``languages``: the languages whisper may identify (``TRANSCRIBE_LANGUAGES``; None: any).

    ``speech_per_second``: the pipeline's speech shares (one per second).
    ``language``: a declared language (else whisper identifies it per span).
    """
    if audio is None or audio.size == 0:
        return empty_transcript("no audio")
    if sr != 16000:
        raise ValueError("transcription expects 16 kHz audio")
    spans = speech_spans(speech_per_second)
    if not spans:
        return empty_transcript("no speech detected")
    from music.analysis.transcribe import transcribe, vocal_spans

    duration = audio.size / sr
    windows = vocal_spans(spans, duration)
    if not windows:
        return empty_transcript("speech too short to hold a word")
    tr = transcribe(
        audio,
        language=language,
        model=model,
        beam_size=beam_size,
        cpu_threads=cpu_threads,
        cache_dir=cache_dir,
        spans=spans,
        allowed_languages=languages,
    )
    words: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for seg in tr["segments"]:
        segments.append({"start": seg["start"], "end": seg["end"], "text": seg["text"]})
        for w in seg["words"]:
            if w["word"] and w["end"] is not None and w["start"] is not None and w["end"] >= w["start"]:
                words.append({"start": w["start"], "end": w["end"], "word": w["word"], "probability": w["probability"]})
    words.sort(key=lambda w: (w["start"], w["end"]))
    return {
        "language": tr["language"],
        "language_probability": tr["language_probability"],
        "words": words,
        "segments": segments,
        "text": tr["text"],
        "spans": [[s, e] for s, e in windows],
        "rejected": len(tr["rejected"]),
        "model": tr["model"],
    }
