"""Features of a video's own soundtrack (16 kHz mono float32 from the decode pass).

* ``energy_per_second`` — RMS loudness per second mapped from dBFS to 0..1
  (-60 dBFS -> 0, 0 dBFS -> 1): an absolute scale, so a quiet video stays
  quiet instead of being stretched to the full range;
* ``onset_envelope`` / ``detect_onsets`` — spectral-flux onsets (log
  magnitude STFT, 32 ms window, 10 ms hop, half-wave rectified flux,
  adaptive threshold = moving median + delta), in plain numpy: no
  librosa import (and no numba JIT) on the video path. Times are accurate
  to about a hop (10 ms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["energy_per_second", "onset_envelope", "detect_onsets", "ONSET_PARAMS"]

N_FFT = 512
HOP = 160
#: Hops per block of the onset envelope (bounds its working memory, not its result).
ONSET_BLOCK = 1024

ONSET_PARAMS: dict[str, Any] = {
    "n_fft": N_FFT,
    "hop": HOP,
    "median_s": 0.5,
    "delta": 0.08,
    "min_gap_s": 0.05,
}


def energy_per_second(audio: np.ndarray | None, sr: int, n_seconds: int) -> list[float]:
    """Loudness per second (0..1 from -60..0 dBFS); zeros without audio."""
    out = np.zeros(n_seconds, np.float64)
    if audio is None or audio.size == 0:
        return out.tolist()
    for s in range(n_seconds):
        seg = audio[s * sr : (s + 1) * sr]
        if seg.size == 0:
            break
        rms = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
        db = 20.0 * np.log10(max(rms, 1e-6))
        out[s] = min(1.0, max(0.0, (db + 60.0) / 60.0))
    return out.tolist()


def onset_envelope(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectral-flux onset strength per hop and the hop times (s).

    The flux of frame ``j`` compares the (Hann-windowed) window starting at
    ``j*hop`` with the previous one. A sudden attack makes the flux peak when
    it reaches the window's centre, so the time of frame ``j`` is the centre,
    ``(j*hop + n_fft/2) / sr``.
    """
    if audio.size < N_FFT + HOP:
        return np.zeros(0, np.float32), np.zeros(0)
    n = 1 + (audio.size - N_FFT) // HOP
    window = np.hanning(N_FFT).astype(np.float32)
    # Blocks of ONSET_BLOCK hops (~10 s): the windows of a block are a strided
    # view of its stretch of audio, copied once when windowed, so the extra
    # memory is a few blocks' worth whatever the soundtrack's length.
    flux = np.zeros(n, np.float32)
    prev: np.ndarray | None = None
    block = ONSET_BLOCK
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        seg = audio[b0 * HOP : (b1 - 1) * HOP + N_FFT]
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP] * window
        mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32))
        del frames
        first = mag[:1] if prev is None else prev[None, :]
        d = np.diff(mag, axis=0, prepend=first)
        flux[b0:b1] = np.maximum(d, 0.0).mean(axis=1)
        prev = mag[-1].copy()
    times = (np.arange(n) * HOP + N_FFT / 2) / float(sr)
    return flux, times


def detect_onsets(
    audio: np.ndarray | None,
    sr: int,
    *,
    median_s: float = ONSET_PARAMS["median_s"],
    delta: float = ONSET_PARAMS["delta"],
    min_gap_s: float = ONSET_PARAMS["min_gap_s"],
) -> list[dict[str, float]]:
    """Onsets as ``[{"time", "strength"}]`` (strength 0..1 relative to the strongest)."""
    if audio is None or audio.size == 0:
        return []
    from fala_clip.media.dsp import find_peaks, median_filter1d

    flux, times = onset_envelope(audio, sr)
    if flux.size < 3 or float(flux.max()) <= 0:
        return []
    env = flux / float(flux.max())
    med = median_filter1d(env, max(3, int(median_s * sr / HOP) | 1))
    thresh = med + delta
    dist = max(1, int(round(min_gap_s * sr / HOP)))
    peaks = find_peaks(env, height=thresh, distance=dist)
    return [{"time": round(float(times[p]), 3), "strength": round(float(env[p]), 3)} for p in peaks.tolist()]
