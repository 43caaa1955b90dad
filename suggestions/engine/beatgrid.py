"""The beat grid: the track's beats with downbeats, position in the bar and strength.

Built from a :class:`~music.analysis.contracts.MusicAnalysisInput`:

* beats as listed (clipped to the track); none listed but a tempo given → a
  regular grid from 0 s at the tempo (``synthetic=True``);
* downbeats from ``downbeats`` (a beat within ``DOWNBEAT_MATCH_S`` of one),
  else from ``beat_positions`` (parallel to ``beats``: 1-based as
  ``music.analysis.rhythm`` writes it, or 0-based when it holds a 0), else
  every ``meter``-th beat from the first (4/4 by default);
* beats per bar: the median spacing of the downbeats (the meter when fewer
  than two);
* strength: the onset curve at the beat (±1 sample) over the track maximum;
  without an onset curve 1.0 on downbeats and 0.5 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._values import num, times
from .contracts import MusicAnalysisInput

DOWNBEAT_MATCH_S = 0.07  # a beat this close to a listed downbeat is that downbeat


@dataclass(frozen=True)
class BeatGrid:
    """The track's beats (per-beat timeline), in track seconds, sorted.

    ``pos_in_bar`` is 0 on a downbeat.  ``synthetic`` is True when the track listed no beats
    and the grid was built from its tempo (so cuts are on the tempo grid, not detected beats).
    """

    times: np.ndarray
    is_downbeat: np.ndarray
    pos_in_bar: np.ndarray
    strength: np.ndarray
    beats_per_bar: int = 4
    synthetic: bool = False

    @property
    def period(self) -> float:
        """Median beat period in seconds (0.5 s when fewer than two beats)."""
        if self.times.size < 2:
            return 0.5
        return float(np.median(np.diff(self.times)))

    def __len__(self) -> int:
        return int(self.times.size)


def _downbeats_from_positions(music: MusicAnalysisInput, beat_times: np.ndarray) -> np.ndarray:
    """Downbeat flags from ``beat_positions`` (parallel to the listed beats)."""
    positions = [num(p) for p in music.get("beat_positions") or []]
    listed = music.get("beats") or []
    if not positions or len(positions) != len(listed):
        return np.zeros(beat_times.size, dtype=bool)
    first = 0 if any(p is not None and round(p) == 0 for p in positions) else 1
    pos_map = {}
    for b, p in zip(listed, positions, strict=True):
        bt = num(b)
        if bt is not None and p is not None:
            pos_map[bt] = round(p) == first
    return np.array([pos_map.get(float(t), False) for t in beat_times], dtype=bool)


def build_beat_grid(music: MusicAnalysisInput, duration: float, onset_values: np.ndarray, onset_hop: float) -> BeatGrid:
    """The beat grid of ``music`` (see the module doc); ``duration`` is the track's length."""
    beat_times = times(music.get("beats"))
    beat_times = beat_times[beat_times <= duration + 1e-9]
    synthetic = False
    tempo = num(music.get("tempo"), 0.0) or 0.0
    if beat_times.size == 0 and tempo > 0 and duration > 0:
        beat_times = np.arange(0.0, duration + 1e-9, 60.0 / tempo)
        synthetic = True
    nb = beat_times.size
    is_down: np.ndarray = np.zeros(nb, dtype=bool)
    downbeats = times(music.get("downbeats"))
    if downbeats.size and nb:
        idx = np.clip(np.searchsorted(downbeats, beat_times), 1, downbeats.size) - 1
        nearest = np.minimum(
            np.abs(beat_times - downbeats[idx]),
            np.abs(beat_times - downbeats[np.minimum(idx + 1, downbeats.size - 1)]),
        )
        is_down = nearest <= DOWNBEAT_MATCH_S
    elif not synthetic:
        is_down = _downbeats_from_positions(music, beat_times)
    meter = num(music.get("meter"))
    bpb = int(min(12, max(2, round(meter)))) if meter else 4
    if nb and not is_down.any():
        is_down[::bpb] = True  # no bar information: assume the meter (4/4) from the first beat
    down_idx = np.flatnonzero(is_down)
    if down_idx.size >= 2:
        bpb = int(min(12, max(2, round(float(np.median(np.diff(down_idx)))))))
    pos = np.zeros(nb, dtype=int)
    if nb:
        last = -1
        first = int(down_idx[0]) if down_idx.size else 0
        for k in range(nb):
            if is_down[k]:
                last = k
            pos[k] = (k - last) if last >= 0 else (bpb - (first - k) % bpb) % bpb
    if onset_values.size and onset_hop > 0 and onset_values.max() > 0:
        onorm = np.clip(onset_values / onset_values.max(), 0.0, 1.0)
        idx = np.clip(np.round(beat_times / onset_hop).astype(int), 0, onorm.size - 1)
        lo, hi = np.maximum(idx - 1, 0), np.minimum(idx + 1, onorm.size - 1)
        strength = np.maximum(np.maximum(onorm[lo], onorm[idx]), onorm[hi])
    else:
        strength = np.where(is_down, 1.0, 0.5)
    return BeatGrid(
        times=beat_times,
        is_downbeat=is_down,
        pos_in_bar=pos,
        strength=np.asarray(strength, dtype=float),
        beats_per_bar=bpb,
        synthetic=synthetic,
    )
