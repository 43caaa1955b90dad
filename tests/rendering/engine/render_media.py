"""The shared test EDL and measurements for the rendering-engine tests.

Sources come from ``tests.media_factory``: testsrc with white flashes on known
frames, and a sample-exact 1 kHz beep (``aevalsrc``) starting at the same
instants over a 200 Hz bed (so loudnorm has something to normalise).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

# The sources come from the shared recipes (re-exported under the names these tests use).
from tests.media_factory import flash_source as make_flash_source
from tests.media_factory import music_bed as make_music
from tests.media_factory import run

__all__ = ["make_flash_source", "make_music", "run"]

FFMPEG = "ffmpeg"

FPS = 30
# Flash + beep instants in the source (on the 30 fps frame grid).
FLASHES = [1.0, 2.5, 4.0, 5.5, 7.0, 8.5]
SOURCE_META = {"fps": FPS, "width": 640, "height": 360, "has_audio": True, "duration": 10.0}

# Montage: five cuts, out of source order, one starting off the frame grid
# (3.71 s, snapped to the 3.7 s frame), each containing exactly one flash well inside it; the flash at
# 5.5 s is cut out.
MONTAGE = [(0.5, 1.6), (3.71, 4.5), (6.8, 7.4), (2.3, 3.0), (8.2, 9.0)]


def make_clip(cuts, *, music_offset=None, music_duration=None, template="montage") -> dict:
    edl, pos = [], 0.0
    for src_in, src_out in cuts:
        edl.append(
            {"src_in": src_in, "src_out": src_out, "position": round(pos, 6), "duration": round(src_out - src_in, 6)}
        )
        pos += src_out - src_in
    return {"template": template, "edl": edl, "music_offset": music_offset, "music_duration": music_duration}


def frame_luma(path: Path, *, w: int = 18, h: int = 32) -> np.ndarray:
    """Mean luma of every decoded frame (decoded small, in presentation order)."""
    proc = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-vf",
            f"scale={w}:{h},format=gray",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    frames = np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, h * w)
    return frames.mean(axis=1)


def flash_times(path: Path, fps: float, *, threshold: float = 200.0) -> list[float]:
    """Output times (s) of frames that are (almost) white."""
    luma = frame_luma(path)
    return [i / fps for i in np.flatnonzero(luma > threshold)]


def decode_audio(path: Path, sr: int = 48000) -> np.ndarray:
    proc = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(proc.stdout, dtype=np.float32).astype(np.float64)


def band_envelope(x: np.ndarray, sr: int, freq: float, window_s: float = 0.005) -> np.ndarray:
    """Amplitude envelope of ``x`` in a narrow band around ``freq``.

    Complex demodulation: shift ``freq`` to DC and average over ``window_s``
    (a boxcar = band-pass of +-1/window_s around ``freq``; 5 ms nulls 200 Hz
    multiples, i.e. the 200 Hz bed and the 2 kHz image).  The moving average
    is centred, so onsets are not delayed.
    """
    n = np.arange(len(x))
    base = x * np.exp(-2j * np.pi * freq * n / sr)
    win = max(1, int(round(window_s * sr)))
    kernel = np.ones(win) / win
    return 2 * np.abs(np.convolve(base, kernel, mode="same"))


def tone_onsets(path: Path, *, freq: float = 1000.0, sr: int = 48000, min_gap: float = 0.2) -> list[float]:
    """Times (s) where the ``freq`` envelope rises through half its peak."""
    env = band_envelope(decode_audio(path, sr), sr, freq)
    if env.size == 0:
        return []
    thr = 0.5 * env.max()
    above = env > thr
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    onsets: list[float] = []
    for r in rises:
        t = r / sr
        if not onsets or t - onsets[-1] > min_gap:
            onsets.append(t)
    return onsets


def band_level(path: Path, freq: float, sr: int = 48000) -> float:
    """Median envelope of a tone over the file (robust 'is it there' level)."""
    env = band_envelope(decode_audio(path, sr), sr, freq, window_s=0.02)
    return float(np.median(env)) if env.size else 0.0
