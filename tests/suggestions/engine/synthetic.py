"""Synthetic analysis dicts (the shapes the analysers produce) for tests and benches.

Deterministic for a given seed.  Not used by the engine itself.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

Peak = tuple[float, float, Mapping[str, float]]  # (start s, length s, {timeline key: value})


def synthetic_video(
    duration: float = 300.0,
    *,
    fps: float = 30.0,
    seed: int = 0,
    base: float = 0.2,
    noise: float = 0.05,
    shot_len: tuple[float, float] = (2.0, 8.0),
    peaks: Iterable[Peak] = (),
    impacts: Sequence[tuple[float, float]] = (),
    has_audio: bool = True,
    onset_period: float | None = 0.5,
    embeddings: bool = True,
) -> dict[str, Any]:
    """A video analysis of ``duration`` seconds: flat-ish noisy timelines plus planted peaks.

    ``peaks`` set timeline values (motion, audio_energy, speech, faces, novelty) to the given
    value over ``[start, start + length)``.
    """
    rng = np.random.default_rng(seed)
    n = int(math.ceil(duration))
    keys = ("motion", "audio_energy", "speech", "faces", "novelty")
    tl = {k: np.clip(base + noise * rng.standard_normal(n), 0.0, 1.0) for k in keys}
    for start, length, values in peaks:
        i0, i1 = max(0, int(start)), min(n, int(math.ceil(start + length)))
        for k, v in values.items():
            tl[k][i0:i1] = v
    if not has_audio:
        tl["audio_energy"][:] = 0.0
        tl["speech"][:] = 0.0
    shots = []
    t = 0.0
    while t < duration - 1e-9:
        e = min(duration, t + float(rng.uniform(*shot_len)))
        if duration - e < 0.5:
            e = duration
        shots.append(
            {
                "start": round(t, 3),
                "end": round(e, 3),
                "start_frame": int(round(t * fps)),
                "end_frame": int(round(e * fps)),
                "transition_in": "cut" if t > 0 else None,
            }
        )
        t = e
    cuts = [{"time": s["start"], "frame": s["start_frame"], "kind": "hard", "score": 0.9} for s in shots[1:]]
    onsets: list[float] = []
    if has_audio and onset_period:
        onsets = [round(float(x), 3) for x in np.arange(0.13, duration, onset_period)]
    faces = [{"time": float(i), "boxes": [[0.4, 0.2, 0.2, 0.3, 0.9]]} for i in range(0, n, 2) if tl["faces"][i] > 0.5]
    emb: dict[str, Any] = {"model": "none", "dim": 0, "count": 0, "times": [], "vectors": []}
    if embeddings:
        times = list(np.arange(0.0, duration, 2.0))
        vecs = rng.standard_normal((len(times), 8)).round(3).tolist()
        emb = {"model": "synthetic", "dim": 8, "count": len(times), "times": times, "vectors": vecs}
    return {
        "meta": {
            "duration": float(duration),
            "fps": float(fps),
            "width": 1920,
            "height": 1080,
            "has_audio": has_audio,
        },
        "shots": shots,
        "cuts": cuts,
        "timeline": {"hop_s": 1.0, **{k: [round(float(x), 4) for x in v] for k, v in tl.items()}},
        "impacts": [{"time": t, "strength": s, "kind": "visual"} for t, s in impacts],
        "audio_onsets": onsets,
        "faces": faces,
        "embeddings": emb,
    }


def synthetic_music(
    duration: float = 180.0,
    *,
    tempo: float = 120.0,
    first_beat: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
    peak: tuple[float, float] | None = None,
    vocals: bool = True,
    beats: Sequence[float] | None = None,
) -> dict[str, Any]:
    """A music analysis: a beat grid (optionally jittered), energy/onset curves, sections."""
    rng = np.random.default_rng(seed)
    if beats is None:
        period = 60.0 / tempo
        grid: np.ndarray = np.arange(first_beat, duration, period)
        if jitter:
            grid = grid + rng.uniform(-jitter, jitter, grid.size)
            grid = np.clip(grid, 0.0, duration)
        beats_l = sorted({round(float(b), 4) for b in grid})
    else:
        beats_l = sorted(float(b) for b in beats)
    downbeats = beats_l[::4]
    positions = [(i % 4) + 1 for i in range(len(beats_l))]
    hop = 0.05
    n = int(math.ceil(duration / hop))
    energy = 0.3 + 0.05 * rng.standard_normal(n)
    onset = 0.2 + 0.05 * np.abs(rng.standard_normal(n))
    for b in beats_l:
        i = min(n - 1, int(round(b / hop)))
        onset[i] = 1.0 if b in downbeats else 0.7
    if peak is None:
        peak = (duration * 0.5, min(30.0, duration * 0.25))
    p0, plen = peak
    energy[int(p0 / hop) : int((p0 + plen) / hop)] = 0.9
    sections = []
    bounds = sorted({0.0, p0, min(duration, p0 + plen), duration})
    for a, b in itertools.pairwise(bounds):
        if b - a <= 0:
            continue
        is_peak = abs(a - p0) < 1e-9
        sections.append(
            {
                "start": a,
                "end": b,
                "label": "chorus" if is_peak else "verse",
                "energy": 0.9 if is_peak else 0.3,
                "is_peak": is_peak,
            }
        )
    singing = [[p0, min(duration, p0 + plen)]] if vocals else []
    segments = (
        [
            {"start": p0 + k * 4.0, "end": p0 + k * 4.0 + 3.0, "text": f"line {k}", "words": []}
            for k in range(int(plen // 4))
        ]
        if vocals
        else []
    )
    return {
        "duration": float(duration),
        "tempo": float(tempo),
        "beats": beats_l,
        "downbeats": downbeats,
        "beat_positions": positions,
        "onset_curve": {"hop_s": hop, "values": np.clip(onset, 0, None).round(4).tolist()},
        "energy_curve": {"hop_s": hop, "values": np.clip(energy, 0, None).round(4).tolist()},
        "sections": sections,
        "activity": {"singing": singing, "speech": [], "music": [[0.0, duration]]},
        "transcription": {"segments": segments},
        "genre": {"declared": "pop", "inferred": "pop", "score": 0.8},
    }
