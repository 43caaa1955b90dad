"""Speech presence per second in a video's own soundtrack.

Default: Silero VAD v6 as shipped (ONNX, offline) inside faster-whisper
(``faster_whisper.vad.get_vad_model``): one speech probability per 32 ms
window; the value for a second is the share of its windows at or above
``threshold``. When faster-whisper / onnxruntime are missing the result
falls back to an energy + spectral-flatness heuristic and says so in its
``method`` (``"energy-fallback"``): it detects "voice-like sound", not
speech, and must not be trusted as a VAD.

:func:`speech_analysis` also returns the *fine* speech activity — the
probability of every 32 ms window (``{"hop_s": 0.032, "values": [...]}``,
2 decimals, window ``k`` covers ``[k * hop, (k + 1) * hop)``) — so clip
edges can be put in the pauses between words and phrases (the per-second
shares are far too coarse for that).  ~31 values per source second (about
0.5 MB of JSON per source hour).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fala_clip.media.memory import trim_heap

__all__ = ["speech_analysis", "speech_per_second", "speech_model_info"]

WINDOW = 512  # samples at 16 kHz (Silero's window)


def speech_model_info() -> dict[str, Any]:
    try:
        from importlib.metadata import version

        return {"name": "silero-vad-v6 (faster-whisper)", "version": version("faster-whisper")}
    except Exception:  # pragma: no cover - depends on the environment
        return {"name": "energy-fallback", "version": "1"}


#: Windows per ONNX call: faster-whisper's own batch (``SileroVADModel.__call__``), so the
#: recurrent state crosses batch edges exactly as there and the output is identical.
SILERO_BATCH = 10000
SILERO_CONTEXT = 64  # samples of the previous window prepended to each window


def _silero_probs(audio: np.ndarray) -> np.ndarray:
    """One speech probability per 512-sample window, in bounded memory.

    The same computation as ``faster_whisper.vad.SileroVADModel.__call__``
    (each window with the previous window's last 64 samples in front, the
    LSTM state carried from batch to batch), but built one batch at a time
    from the audio instead of from a padded, context-expanded copy of the
    whole soundtrack (~9 MB per source minute, 0.5 GB at 60 min).
    """
    from faster_whisper.vad import get_vad_model

    session = get_vad_model().session
    n_windows = -(-audio.shape[0] // WINDOW)
    out = np.empty(n_windows, np.float32)
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    prev_tail: np.ndarray = np.zeros(SILERO_CONTEXT, np.float32)
    for w0 in range(0, n_windows, SILERO_BATCH):
        w1 = min(n_windows, w0 + SILERO_BATCH)
        piece: np.ndarray = np.asarray(audio[w0 * WINDOW : w1 * WINDOW], dtype=np.float32)
        if piece.shape[0] < (w1 - w0) * WINDOW:  # the ragged end: zero-padded like faster-whisper
            piece = np.pad(piece, (0, (w1 - w0) * WINDOW - piece.shape[0]))
        windows = piece.reshape(-1, WINDOW)
        batch = np.empty((windows.shape[0], SILERO_CONTEXT + WINDOW), np.float32)
        batch[:, SILERO_CONTEXT:] = windows
        batch[0, :SILERO_CONTEXT] = prev_tail
        batch[1:, :SILERO_CONTEXT] = windows[:-1, -SILERO_CONTEXT:]
        prev_tail = windows[-1, -SILERO_CONTEXT:].copy()
        output, h, c = session.run(None, {"input": batch, "h": h, "c": c})
        out[w0:w1] = np.asarray(output, dtype=np.float32).reshape(-1)
        del batch, output  # freed before the next batch is built: one batch alive at a time
        trim_heap()
    return out


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


def speech_analysis(
    audio: np.ndarray | None, sr: int, n_seconds: int, *, threshold: float = 0.5
) -> tuple[list[float], dict[str, Any], dict[str, Any]]:
    """``(per_second, activity, info)``: the share of speech per second (0..1), the fine
    activity ``{"hop_s", "values"}`` (speech probability per 32 ms window; 0/1 from the
    energy fallback) and how it was measured.  One VAD pass gives both."""
    info = {**speech_model_info(), "params": {"threshold": threshold, "window": WINDOW, "sr": sr}}
    out = np.zeros(n_seconds, np.float64)
    hop = WINDOW / float(sr or 16000)
    activity: dict[str, Any] = {"hop_s": round(hop, 6), "values": []}
    if audio is None or audio.size == 0 or n_seconds == 0:
        return out.tolist(), activity, info
    if sr != 16000:
        raise ValueError("speech detection expects 16 kHz audio")
    try:
        probs = _silero_probs(audio)
    except ImportError:
        info = {"name": "energy-fallback", "version": "1", "params": {"window": WINDOW, "sr": sr}}
        probs = (_energy_fallback(audio) > 0.5).astype(np.float32)
    voiced = probs >= threshold
    # windows (32 ms) are assigned to the second their start falls in
    starts = np.arange(voiced.shape[0]) * WINDOW / sr
    sec = np.minimum(starts.astype(np.int64), n_seconds - 1)
    counts = np.bincount(sec, minlength=n_seconds).astype(np.float64)
    hits = np.bincount(sec, weights=voiced.astype(np.float64), minlength=n_seconds)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counts > 0, hits / np.maximum(counts, 1), 0.0)
    keep = min(probs.shape[0], int(np.ceil(n_seconds / hop)))
    activity["values"] = np.round(probs[:keep].astype(np.float64), 2).tolist()
    return share.tolist(), activity, info


def speech_per_second(
    audio: np.ndarray | None, sr: int, n_seconds: int, *, threshold: float = 0.5
) -> tuple[list[float], dict[str, Any]]:
    """``(values, info)``: share of speech per second (0..1) and how it was measured."""
    share, _activity, info = speech_analysis(audio, sr, n_seconds, threshold=threshold)
    return share, info
