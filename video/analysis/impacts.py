"""Impacts: the punchy instants of a video (a hit, a flash, a drop, a jump).

* **visual** — per frame, a sudden *rise* in motion energy over the median
  of the previous half second plus brightening (twice weighted: flashes,
  strobes, lights on; darkening a quarter as much); hard cuts are excluded
  (an edit is not an impact). Strength ``1 - exp(-raw / 15)``; peaks at
  least 0.25 s apart, above an absolute floor and above the video's own
  median + 4 MAD.
* **audio** — spectral-flux onsets of the video's own soundtrack
  (:func:`video.analysis.audio.detect_onsets`) that are strong relative to
  the soundtrack (>= ``audio_min_strength``) *and* raise the loudness by at
  least ``audio_min_rise_db`` (100 ms after vs 200 ms before).
* **audiovisual** — a visual and an audio impact within ``pair_s`` of each
  other: one impact at the audio time (sample-accurate), strength boosted.

All onsets are returned too (``audio_onsets``): the montage uses them as cut
points when no music track is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from video.analysis.framestats import FrameStats

__all__ = ["visual_impacts", "audio_impacts", "combine_impacts", "detect_impacts", "IMPACT_PARAMS"]

IMPACT_PARAMS: dict[str, Any] = {
    "visual_scale": 15.0,
    "visual_min_strength": 0.35,
    "min_gap_s": 0.25,
    "audio_min_strength": 0.3,
    "audio_min_rise_db": 6.0,
    "pair_s": 0.12,
}


def visual_impacts(
    fs: FrameStats,
    motion: np.ndarray,
    *,
    exclude_frames: list[int] | None = None,
    scale: float = IMPACT_PARAMS["visual_scale"],
    min_strength: float = IMPACT_PARAMS["visual_min_strength"],
    min_gap_s: float = IMPACT_PARAMS["min_gap_s"],
) -> list[dict[str, Any]]:
    """Visual impact peaks ``[{"time", "frame", "strength"}]``."""
    n = fs.n
    if n < 3:
        return []
    from fala_clip.media.dsp import find_peaks, median_filter1d

    w = max(3, int(round(0.5 * fs.fps)))
    # median of the previous w frames: a trailing window (shifted centred filter)
    med = median_filter1d(motion.astype(np.float32), w, origin=(w - 1) // 2)
    prev_med = np.concatenate([[motion[0]], med[:-1]])
    rise = np.maximum(motion - prev_med, 0.0)
    dl = np.diff(fs.luma.astype(np.float32), prepend=fs.luma[:1])
    # brightening counts most (flash onset); the return to dark much less, so a
    # short flash gives one peak at its start
    raw = rise + 2.0 * np.maximum(dl, 0.0) + 0.5 * np.maximum(-dl, 0.0)
    for f in exclude_frames or []:
        lo, hi = max(0, f - 1), min(n, f + 2)
        raw[lo:hi] = 0.0
    strength = 1.0 - np.exp(-raw / scale)
    mad = float(np.median(np.abs(raw - np.median(raw))))
    floor_raw = max(-scale * np.log(1.0 - min_strength), float(np.median(raw)) + 4.0 * 1.4826 * mad)
    # peaks on the raw (unsaturated) signal so the strongest of close peaks wins
    peaks = find_peaks(raw, height=floor_raw, distance=max(1, int(round(min_gap_s * fs.fps))))
    return [
        {"time": round(p / fs.fps, 3), "frame": int(p), "strength": round(float(strength[p]), 3)}
        for p in peaks.tolist()
    ]


def _rise_db(audio: np.ndarray, sr: int, t: float) -> float:
    i = int(t * sr)
    before = audio[max(0, i - int(0.2 * sr)) : max(0, i - int(0.01 * sr))]
    after = audio[i : i + int(0.1 * sr)]

    def db(x: np.ndarray) -> float:
        return 20 * np.log10(max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0, 1e-5))

    return db(after) - db(before)


def audio_impacts(
    onsets: list[dict[str, float]],
    audio: np.ndarray | None,
    sr: int,
    *,
    min_strength: float = IMPACT_PARAMS["audio_min_strength"],
    min_rise_db: float = IMPACT_PARAMS["audio_min_rise_db"],
) -> list[dict[str, Any]]:
    if audio is None or not onsets:
        return []
    out = []
    for o in onsets:
        if o["strength"] < min_strength:
            continue
        rise = _rise_db(audio, sr, o["time"])
        if rise < min_rise_db:
            continue
        strength = o["strength"] * min(1.0, rise / 20.0)
        out.append({"time": o["time"], "strength": round(float(max(strength, 0.05)), 3)})
    return out


def combine_impacts(
    visual: list[dict[str, Any]], audio: list[dict[str, Any]], *, pair_s: float = IMPACT_PARAMS["pair_s"]
) -> list[dict[str, Any]]:
    """Merge into ``[{"time", "strength", "kind"}]`` sorted by time.

    Each visual impact (in the given order) pairs with the nearest audio impact
    not yet paired and at most ``pair_s`` away (on a tie, the later one in
    ``audio``). The audio times are sorted once and each visual impact looks
    only at the audio impacts inside its ``±pair_s`` window (found by binary
    search), so the cost is ``O((V + A) log A)`` instead of ``O(V * A)``.
    """
    tol = pair_s + 1e-9
    a_times = np.asarray([a["time"] for a in audio], dtype=np.float64)
    order = np.argsort(a_times, kind="stable")
    sorted_times = a_times[order]
    # the window is searched a little wider than ±tol and every candidate is
    # checked with the exact test below, so rounding at the edges changes nothing
    margin = 1e-6 * (1.0 + float(np.abs(sorted_times).max(initial=0.0)))
    used = np.zeros(len(audio), bool)
    out: list[dict[str, Any]] = []
    for v in visual:
        vt = v["time"]
        lo = int(np.searchsorted(sorted_times, vt - tol - margin, side="left"))
        hi = int(np.searchsorted(sorted_times, vt + tol + margin, side="right"))
        best, best_dt = None, tol
        for k in order[lo:hi].tolist():
            if used[k]:
                continue
            dt = abs(audio[k]["time"] - vt)
            # nearest first; among equally near, the later index (as a scan of ``audio`` with <= would)
            if dt < best_dt or (dt == best_dt and (best is None or k > best)):
                best, best_dt = k, dt
        if best is not None:
            used[best] = True
            a = audio[best]
            s = min(1.0, max(v["strength"], a["strength"]) + 0.5 * min(v["strength"], a["strength"]))
            out.append({"time": a["time"], "strength": round(s, 3), "kind": "audiovisual"})
        else:
            out.append({"time": v["time"], "strength": v["strength"], "kind": "visual"})
    for k, a in enumerate(audio):
        if not used[k]:
            out.append({"time": a["time"], "strength": a["strength"], "kind": "audio"})
    return sorted(out, key=lambda d: d["time"])


def detect_impacts(
    fs: FrameStats,
    motion: np.ndarray,
    onsets: list[dict[str, float]],
    audio: np.ndarray | None,
    sr: int,
    *,
    exclude_frames: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Visual + audio impacts merged (see module doc)."""
    vis = visual_impacts(fs, motion, exclude_frames=exclude_frames)
    aud = audio_impacts(onsets, audio, sr)
    return combine_impacts(vis, aud)
