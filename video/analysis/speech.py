"""Speech presence per second in a video's own soundtrack.

Default: Silero VAD v6 as shipped (ONNX, offline) inside faster-whisper
(``faster_whisper.vad.get_vad_model``): one speech probability per 32 ms
window; the value for a second is the share of its windows at or above
``threshold``. When faster-whisper / onnxruntime are missing the result
falls back to an energy + spectral-flatness heuristic and says so in its
``method`` (``"energy-fallback"``): it detects "voice-like sound", not
speech, and must not be trusted as a VAD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["speech_per_second", "speech_model_info"]

WINDOW = 512  # samples at 16 kHz (Silero's window)


def speech_model_info() -> dict[str, Any]:
    try:
        from importlib.metadata import version

        return {"name": "silero-vad-v6 (faster-whisper)", "version": version("faster-whisper")}
    except Exception:  # pragma: no cover - depends on the environment
        return {"name": "energy-fallback", "version": "1"}


def _silero_probs(audio: np.ndarray) -> np.ndarray:
    from faster_whisper.vad import get_vad_model

    model = get_vad_model()
    pad = (-audio.shape[0]) % WINDOW
    padded = np.pad(audio.astype(np.float32, copy=False), (0, pad))
    probs = np.asarray(model(padded), dtype=np.float32).reshape(-1)
    return probs


def _energy_fallback(audio: np.ndarray) -> np.ndarray:
    n = audio.shape[0] // WINDOW
    frames = audio[: n * WINDOW].reshape(n, WINDOW).astype(np.float32)
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    spec = np.abs(np.fft.rfft(frames * np.hanning(WINDOW), axis=1)) + 1e-9
    # voice band 300-3400 Hz at 16 kHz, bins of 31.25 Hz
    band = spec[:, 10:109]
    flat = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    db = 20 * np.log10(rms)
    return ((db > -40) & (flat < 0.35)).astype(np.float32)


def speech_per_second(
    audio: np.ndarray | None, sr: int, n_seconds: int, *, threshold: float = 0.5
) -> tuple[list[float], dict[str, Any]]:
    """``(values, info)``: share of speech per second (0..1) and how it was measured."""
    info = {**speech_model_info(), "params": {"threshold": threshold, "window": WINDOW, "sr": sr}}
    out = np.zeros(n_seconds, np.float64)
    if audio is None or audio.size == 0 or n_seconds == 0:
        return out.tolist(), info
    if sr != 16000:
        raise ValueError("speech detection expects 16 kHz audio")
    try:
        probs = _silero_probs(audio)
        voiced = probs >= threshold
    except ImportError:
        info = {"name": "energy-fallback", "version": "1", "params": {"window": WINDOW, "sr": sr}}
        voiced = _energy_fallback(audio) > 0.5
    # windows (32 ms) are assigned to the second their start falls in
    starts = np.arange(voiced.shape[0]) * WINDOW / sr
    sec = np.minimum(starts.astype(np.int64), n_seconds - 1)
    counts = np.bincount(sec, minlength=n_seconds).astype(np.float64)
    hits = np.bincount(sec, weights=voiced.astype(np.float64), minlength=n_seconds)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counts > 0, hits / np.maximum(counts, 1), 0.0)
    return share.tolist(), info
