"""EBU R128 measurement (ITU-R BS.1770-4 / EBU Tech 3341-3342) of the audio a render will encode.

The two-pass loudness normalisation needs, before the encode, the integrated
loudness, true peak, loudness range and gating threshold of the clip's exact
audio chain (same segments, same fades).  ffmpeg's ``loudnorm`` prints them
after running its whole dynamic normaliser at 192 kHz (~1 s for 30 s of
audio on the 2-core machine); here ffmpeg only decodes the chain to 48 kHz
float (~0.1 s) and numpy measures it (~0.1 s).

That is enough when ``loudnorm``'s second pass will run in *linear* mode (one
gain for the whole clip: the gain keeps the true peak under the ceiling and
the range is within the target), because the linear gain depends on these
four figures only.  When it would not, ``loudnorm`` normalises dynamically
and also wants the ``offset`` its own first pass found, so the caller runs
that pass as before (:func:`linear_possible` decides, with ffmpeg's rule).

Agreement (``tests/rendering/engine/test_loudness.py``): integrated loudness and
gate as ffmpeg's ``ebur128`` filter at 48 kHz (its 0.1-LU print; what the render's
verification measures); against ``loudnorm``'s own figures, which it takes at
192 kHz, the loudness is 0.2-0.55 LU higher on white-noise test programmes (the
K-weighting of the two rates differs near 20 kHz: a linear gain from these
figures lands on the target as ``ebur128`` measures it), true peak within 0.3 dB
(4x polyphase oversampling instead of 192 kHz: ``resample_poly``'s filter), range within 1 LU, and the same
linear-or-dynamic decision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["measure_r128", "linear_possible", "MEASURE_RATE"]

#: The rate the chain is decoded at (the K-weighting coefficients below are for it).
MEASURE_RATE = 48000

# BS.1770-4 K-weighting at 48 kHz: a high shelf (the head) then a high pass (RLB).
_SHELF = (
    np.array([1.53512485958697, -2.69169618940638, 1.19839281085285]),
    np.array([1.0, -1.69065929318241, 0.73248077421585]),
)
_HIGHPASS = (np.array([1.0, -2.0, 1.0]), np.array([1.0, -1.99004745483398, 0.99007225036621]))
# the two in one 4th-order filter, applied by FFT (fala_clip.media.dsp: lfilter's result, without
# importing scipy.signal in the clip process)
_K_WEIGHTING = (
    tuple(np.convolve(_SHELF[0], _HIGHPASS[0]).tolist()),
    tuple(np.convolve(_SHELF[1], _HIGHPASS[1]).tolist()),
)

_ABS_GATE = -70.0  # LUFS
_REL_GATE_I = -10.0  # LU below the absolute-gated mean (integrated loudness)
_REL_GATE_LRA = -20.0  # LU below (loudness range)


def _lufs(mean_square: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(np.asarray(mean_square, np.float64))


def measure_r128(samples: np.ndarray, rate: int = MEASURE_RATE) -> dict[str, float]:
    """``loudnorm``-style figures of ``samples`` (``(n, channels)`` float, full scale 1.0).

    Keys as ``loudnorm``'s JSON: ``input_i`` (LUFS), ``input_tp`` (dBTP),
    ``input_lra`` (LU), ``input_thresh`` (LUFS, the relative gate of the
    integrated loudness) and ``target_offset`` (0: only meaningful for the
    dynamic mode, which does not use these figures alone).  Silence (no
    400-ms block above -70 LUFS) gives ``input_i = -70`` and ``input_thresh = -70``.
    """
    from fala_clip.media.dsp import iir_filter, upsample_poly

    if rate != MEASURE_RATE:
        raise ValueError(f"measure_r128 expects {MEASURE_RATE} Hz audio, got {rate}")
    x = np.asarray(samples, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    hop = rate // 10  # 100 ms
    n_hops = x.shape[0] // hop
    y = iir_filter(_K_WEIGHTING[0], _K_WEIGHTING[1], x, axis=0)
    power = np.square(y).sum(axis=1)  # channel weights 1.0 (L, R)
    hop_energy = power[: n_hops * hop].reshape(n_hops, hop).sum(axis=1) if n_hops else np.zeros(0)
    cum = np.concatenate([[0.0], np.cumsum(hop_energy)])

    # integrated: 400-ms blocks every 100 ms, absolute then relative gate
    blocks = (cum[4:] - cum[:-4]) / (4 * hop) if n_hops >= 4 else np.zeros(0)
    above = blocks[_lufs(blocks) > _ABS_GATE] if blocks.size else blocks
    if above.size:
        thresh = float(_lufs(above.mean())) + _REL_GATE_I
        gated = above[_lufs(above) > thresh]
        integrated = float(_lufs(gated.mean())) if gated.size else _ABS_GATE
    else:
        thresh, integrated = _ABS_GATE, _ABS_GATE

    # range: 3-s short-term windows every second (libebur128's), gates -70 LUFS and -20 LU
    lra = 0.0
    if n_hops >= 30:
        starts = np.arange(0, n_hops - 30 + 1, 10)
        short = (cum[starts + 30] - cum[starts]) / (30 * hop)
        short = short[_lufs(short) > _ABS_GATE]
        if short.size:
            rel = float(_lufs(short.mean())) + _REL_GATE_LRA
            levels = np.sort(_lufs(short[_lufs(short) > rel]))
            if levels.size:
                lra = float(np.percentile(levels, 95) - np.percentile(levels, 10))

    # true peak: 4x oversampled sample peak
    peak = 0.0
    for ch in range(x.shape[1]):
        if x.shape[0]:
            peak = max(peak, float(np.max(np.abs(upsample_poly(x[:, ch], 4)))))
    true_peak = 20.0 * math.log10(peak) if peak > 0 else -99.0
    return {
        "input_i": round(integrated, 2),
        "input_tp": round(true_peak, 2),
        "input_lra": round(lra, 2),
        "input_thresh": round(thresh, 2),
        "target_offset": 0.0,
    }


def linear_possible(measured: dict[str, Any], *, target_i: float, target_tp: float, target_lra: float) -> bool:
    """Whether ``loudnorm`` will normalise linearly with these figures (its own rule, ffmpeg 5-7).

    Linear when the figures are real (TP not 99, threshold above -70, LRA and
    I non-zero), the gain keeps the true peak at or under the ceiling, and
    the range is within the target.  Otherwise it normalises dynamically.
    """
    try:
        i, tp = float(measured["input_i"]), float(measured["input_tp"])
        lra, thresh = float(measured["input_lra"]), float(measured["input_thresh"])
    except (KeyError, TypeError, ValueError):
        return False
    if not all(math.isfinite(v) for v in (i, tp, lra, thresh)):
        return False
    if tp == 99 or thresh <= _ABS_GATE or round(lra, 2) == 0 or round(i, 2) == 0:
        return False
    return tp + (target_i - i) <= target_tp and lra <= target_lra
