"""Generated songs with a known form (verse / chorus / bridge ...), numpy only.

``song_form("ABABCB")`` renders one part per letter at a fixed tempo, so the
bar lines, the part boundaries and which parts repeat are known exactly:

* ``I`` intro: a soft, high sustained chord, no drums, no bass (heard once);
* ``A`` verse: soft pad + bass on beats 1 and 3, a faint tick on every beat,
  chord loop Am-F-C-G;
* ``B`` chorus: loud, bright saw-like chords + pad, bass on every beat, kick,
  snare on 2 and 4, eighth-note hats, chord loop D-A-Bm-E;
* ``P`` pre-chorus: pad + bass, a snare on every beat building
  up, chords Bb-C;
* ``C`` bridge: plucked organ-like arpeggios, a kick on each downbeat, a
  sustained bass, chord loop Eb-Bb-Cm-Ab;
* ``D`` a verse in sound (same instruments and level as ``A``) on the
  bridge's chords: only its harmony tells it from the verse;
* ``O`` outro: a soft Am pad fading out.

Each repeat of a part is rendered again with its own noise (hats, snares)
and a little gain jitter, so repeats are alike but not sample-identical.
With ``lead=True`` every part also gets a voice-like lead line of random
chord tones, drawn afresh for each repeat (a verse sung to other words and
another tune), so repeats share only their harmony, timbre and loudness.
"""

from __future__ import annotations

import numpy as np

from .synth import SR, _add, _env, chord_pad, hat, kick, snare

PART_BARS = {"I": 4, "A": 8, "P": 8, "B": 8, "C": 8, "D": 8, "O": 4}
LOOPS = {
    "A": ((57, 60, 64), (53, 57, 60), (55, 60, 64), (55, 59, 62)),  # Am F C G
    "B": ((62, 66, 69), (61, 64, 69), (59, 62, 66), (59, 64, 68)),  # D A Bm E
    "C": ((58, 63, 67), (58, 62, 65), (60, 63, 67), (60, 63, 68)),  # Eb Bb Cm Ab
}
LOOPS["D"] = LOOPS["C"]
LOOPS["P"] = ((58, 62, 65), (60, 64, 67))  # Bb C


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _bright(freqs: list[float], duration: float, sr: int) -> np.ndarray:
    """Saw-like chord (8 harmonics, 1/k amplitude), short fades."""
    t = np.arange(int(duration * sr)) / sr
    y = np.zeros_like(t)
    for f in freqs:
        for k in range(1, 9):
            if k * f < sr / 2:
                y += np.sin(2 * np.pi * k * f * (1 + 0.002 * (k % 3)) * t) / k
    fade = np.minimum(1.0, np.minimum(t, duration - t) / 0.02)
    return y * fade / (2.5 * len(freqs))


def _pluck(f: float, duration: float, sr: int) -> np.ndarray:
    """Organ-like odd harmonics with a plucked decay."""
    t = np.arange(int(duration * sr)) / sr
    y = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 3, 5, 7))
    return np.asarray(y) * _env(t.size, sr, 0.25)


def _bass(f: float, duration: float, sr: int) -> np.ndarray:
    t = np.arange(int(duration * sr)) / sr
    return (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)) * _env(t.size, sr, 0.4)


def _lead(f: float, duration: float, sr: int) -> np.ndarray:
    """A voice-like note: vibrato, a few harmonics, soft attack and release."""
    t = np.arange(int(duration * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))) / sr
    y = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
    return y * np.minimum(1.0, np.minimum(t, duration - t) / 0.03)


def _render_part(
    y: np.ndarray, kind: str, start: float, bars: int, period: float, rng, sr: int, lead: bool = False
) -> None:
    gain = 1.0 + 0.05 * rng.standard_normal()
    bar_s = 4 * period
    if lead and kind in LOOPS:
        for b in range(bars):
            tones = [m + 12 for m in LOOPS[kind][b % len(LOOPS[kind])]]
            for beat in range(4):
                if rng.random() < 0.8:
                    note = _lead(_hz(rng.choice(tones) + 12 * rng.integers(0, 2)), period * 0.9, sr)
                    _add(y, note, start + (4 * b + beat) * period, sr, (0.12 if kind == "A" else 0.16) * gain)
    if kind == "I":
        _add(y, chord_pad([_hz(m) for m in (72, 76, 79, 83)], bars * bar_s, sr), start, sr, 0.05 * gain)
        return
    if kind == "O":
        pad = chord_pad([_hz(m) for m in (57, 60, 64)], bars * bar_s, sr)
        _add(y, pad * np.linspace(1.0, 0.0, pad.size), start, sr, 0.12 * gain)
        return
    loop = LOOPS[kind]
    for b in range(bars):
        chord = loop[b % len(loop)]
        freqs = [_hz(m) for m in chord]
        root = _hz(chord[0] - 24)
        t0 = start + b * bar_s
        if kind in ("A", "D"):
            _add(y, chord_pad(freqs, bar_s, sr), t0, sr, 0.12 * gain)
            for beat in (0, 2):
                _add(y, _bass(root, 2 * period, sr), t0 + beat * period, sr, 0.18 * gain)
            for beat in range(4):
                _add(y, hat(rng, sr), t0 + beat * period, sr, 0.04 * gain)
        elif kind == "P":
            _add(y, chord_pad(freqs, bar_s, sr), t0, sr, 0.18 * gain)
            for beat in range(4):
                t = t0 + beat * period
                _add(y, _bass(root, period, sr), t, sr, 0.2 * gain)
                _add(y, snare(rng, sr), t, sr, (0.15 + 0.3 * (4 * b + beat) / (4 * bars)) * gain)
        elif kind == "B":
            _add(y, _bright(freqs, bar_s, sr), t0, sr, 0.3 * gain)
            _add(y, chord_pad(freqs, bar_s, sr), t0, sr, 0.1 * gain)
            for beat in range(4):
                t = t0 + beat * period
                _add(y, _bass(root, period, sr), t, sr, 0.25 * gain)
                _add(y, kick(sr), t, sr, 0.8 * gain)
                if beat % 2 == 1:
                    _add(y, snare(rng, sr), t, sr, 0.5 * gain)
                _add(y, hat(rng, sr), t, sr, 0.25 * gain)
                _add(y, hat(rng, sr), t + period / 2, sr, 0.3 * gain)
        elif kind == "C":
            _add(y, chord_pad([root], bar_s, sr), t0, sr, 0.2 * gain)  # sustained bass
            for step in range(8):
                f = freqs[step % 3] * (2 if step >= 4 else 1)
                _add(y, _pluck(f, period, sr), t0 + step * period / 2, sr, 0.18 * gain)
            _add(y, kick(sr), t0, sr, 0.5 * gain)
        else:
            raise ValueError(f"unknown part {kind!r}")


def song_form(form: str = "ABABCB", bpm: float = 112.0, seed: int = 3, sr: int = SR, lead: bool = False):
    """Render ``form`` (letters of :data:`PART_BARS`) at ``bpm`` in 4/4, with a lead line when ``lead``.

    Returns ``(y, spans, beats, downbeats)``: float32 audio peaking at 0.9,
    ``[(start, end, letter), ...]`` per part and the true beat / downbeat times.
    """
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    bars = [PART_BARS[k] for k in form]
    total = sum(bars) * 4 * period
    y = np.zeros(int(total * sr) + sr)
    spans = []
    start = 0.0
    for kind, n in zip(form, bars, strict=True):
        _render_part(y, kind, start, n, period, rng, sr, lead)
        end = start + n * 4 * period
        spans.append((round(start, 4), round(end, 4), kind))
        start = end
    y = y[: int(total * sr)]
    beats = np.arange(sum(bars) * 4) * period
    return (y / np.abs(y).max() * 0.9).astype(np.float32), spans, beats.tolist(), beats[::4].tolist()
