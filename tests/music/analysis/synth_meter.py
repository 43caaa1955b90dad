"""Generated songs with a known meter: a waltz (3/4), a march (4/4) and a 6/8 jig (numpy only).

Each bar starts with a bass note and a chord change; the other beats carry
lighter chord stabs ("oom-pah-pah" in 3/4), so the downbeat is marked the
way real music marks it (bass and harmony), not by a louder click.
"""

from __future__ import annotations

import numpy as np

from .synth import SR, _add, _env

# A progression of four chords (root Hz, third and fifth ratios) that changes every bar.
_CHORDS = ((110.0, 1.26, 1.5), (146.8, 1.26, 1.5), (98.0, 1.26, 1.5), (130.8, 1.19, 1.5))


def _note(freq: float, dur: float, sr: int, decay: float, harmonics: int = 4) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    x = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return (x * _env(n, sr, decay)).astype(np.float64)


def metered_song(
    beats_per_bar: int, bpm: float, *, bars: int = 16, sub: int = 2, offset: float = 0.5, sr: int = SR
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, beat_times, downbeat_times) of a song in ``beats_per_bar`` with ``sub`` onsets per beat."""
    period = 60.0 / bpm
    n_beats = bars * beats_per_bar
    duration = offset + n_beats * period + 1.0
    y = np.zeros(int(duration * sr))
    beats = offset + np.arange(n_beats) * period
    for i, t in enumerate(beats):
        root, third, fifth = _CHORDS[(i // beats_per_bar) % len(_CHORDS)]
        if i % beats_per_bar == 0:
            _add(y, _note(root / 2, period * 0.9, sr, 0.25), t, sr, 0.8)  # bass on the one
            for r in (1.0, third, fifth):
                _add(y, _note(root * 2 * r, period * 0.9, sr, 0.2), t, sr, 0.25)
        else:  # "pah": the same chord, shorter, without the bass
            for r in (1.0, third, fifth):
                _add(y, _note(root * 2 * r, period * 0.6, sr, 0.08), t, sr, 0.2)
        for k in range(1, sub):  # the subdivision: soft high stabs
            _add(y, _note(root * 4 * fifth, period / sub * 0.8, sr, 0.03, 2), t + k * period / sub, sr, 0.08)
    y = 0.5 * y / np.abs(y).max()
    return y.astype(np.float32), beats, beats[::beats_per_bar]
