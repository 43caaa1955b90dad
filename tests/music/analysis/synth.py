"""Deterministic synthetic audio for the music-analysis tests (numpy only).

Everything is generated from a seed, so tests assert exact outcomes on
known ground truth: click times, accent (downbeat) times, section spans.
"""

from __future__ import annotations

import numpy as np

SR = 22050


def _env(n: int, sr: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * sr))


def click_track(bpm: float, duration: float = 30.0, sr: int = SR, offset: float = 0.5, accent_phase: int = 0):
    """Clicks on every beat; every 4th is louder and an octave lower (the downbeat).

    ``accent_phase`` is the index of the first accented click (0..3), so the
    bar need not start on the first click.

    Returns (y, beat_times, downbeat_times).
    """
    y = np.zeros(int(duration * sr), np.float32)
    times = np.arange(offset, duration - 0.1, 60.0 / bpm)
    n = int(0.03 * sr)
    t = np.arange(n) / sr
    for i, tb in enumerate(times):
        accent = i % 4 == accent_phase
        freq, amp = (1000.0, 0.9) if accent else (2000.0, 0.45)
        click = amp * np.sin(2 * np.pi * freq * t) * _env(n, sr, 0.008)
        s = int(round(tb * sr))
        y[s : s + n] += click[: len(y) - s].astype(np.float32)
    return y, times, times[accent_phase::4]


def kick(sr: int = SR, dur: float = 0.25) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    f = 50.0 + 100.0 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(n, sr, 0.08)


def hat(rng: np.random.Generator, sr: int = SR, dur: float = 0.05) -> np.ndarray:
    n = int(dur * sr)
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    return 0.3 * noise * _env(n, sr, 0.01)


def snare(rng: np.random.Generator, sr: int = SR, dur: float = 0.18) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    return (0.6 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * 190 * t)) * _env(n, sr, 0.05)


def _add(y: np.ndarray, x: np.ndarray, at: float, sr: int, gain: float = 1.0) -> None:
    s = int(round(at * sr))
    if s >= len(y):
        return
    m = min(len(x), len(y) - s)
    y[s : s + m] += gain * x[:m]


def chord_pad(freqs, duration: float, sr: int = SR, detune: float = 0.003) -> np.ndarray:
    t = np.arange(int(duration * sr)) / sr
    y = np.zeros_like(t)
    for f in freqs:
        for d in (-detune, 0.0, detune):
            y += np.sin(2 * np.pi * f * (1 + d) * t)
    fade = np.minimum(1.0, np.minimum(t, duration - t) / 0.05)
    return y * fade / (3 * len(freqs))


def electronic(seed: int, duration: float = 20.0, sr: int = SR) -> np.ndarray:
    """Fast four-on-the-floor: kick on every beat, off-beat hats, pumping bass."""
    rng = np.random.default_rng(seed)
    bpm = rng.uniform(122, 132)
    root = 55.0 * 2 ** (rng.integers(0, 7) / 12)
    y = np.zeros(int(duration * sr))
    period = 60.0 / bpm
    k, n_beats = kick(sr), int(duration / period)
    for i in range(n_beats):
        t = i * period
        _add(y, k, t, sr, 0.9)
        _add(y, hat(rng, sr), t + period / 2, sr, 0.5)
        bass_t = np.arange(int(period / 2 * sr)) / sr
        _add(y, np.sign(np.sin(2 * np.pi * root * bass_t)) * _env(bass_t.size, sr, 0.1), t + period / 2, sr, 0.25)
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def ambient(seed: int, duration: float = 20.0, sr: int = SR) -> np.ndarray:
    """Slow sustained pads with a slow swell and soft filtered noise, no drums."""
    rng = np.random.default_rng(seed)
    root = 110.0 * 2 ** (rng.integers(0, 7) / 12)
    t = np.arange(int(duration * sr)) / sr
    y = np.zeros_like(t)
    seg = duration / 2
    for j, ratios in enumerate(((1, 1.25, 1.5, 2), (1.0, 1.2, 1.5, 1.78))):
        part = chord_pad([root * r for r in ratios], seg, sr)
        y[int(j * seg * sr) : int(j * seg * sr) + part.size] += part
    noise = np.convolve(rng.standard_normal(t.size), np.ones(64) / 64, mode="same")
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 0.05 * t)) + 0.05 * noise
    return (y / np.abs(y).max() * 0.5).astype(np.float32)


def rock(seed: int, duration: float = 20.0, sr: int = SR) -> np.ndarray:
    """Distorted power chords (tanh overdrive), kick on 1/3, snare on 2/4."""
    rng = np.random.default_rng(seed)
    bpm = rng.uniform(100, 120)
    root = 82.4 * 2 ** (rng.integers(0, 5) / 12)
    period = 60.0 / bpm
    y = np.zeros(int(duration * sr))
    n_beats = int(duration / period)
    chords = (1.0, 4 / 3, 1.5, 4 / 3)
    for i in range(n_beats):
        t = i * period
        if i % 2 == 0:
            _add(y, kick(sr), t, sr, 0.7)
        else:
            _add(y, snare(rng, sr), t, sr, 0.6)
        f = root * chords[(i // 4) % 4]
        tt = np.arange(int(period * sr)) / sr
        gtr = np.sin(2 * np.pi * f * tt) + np.sin(2 * np.pi * 1.5 * f * tt) + 0.5 * np.sin(2 * np.pi * 2 * f * tt)
        _add(y, np.tanh(6.0 * gtr) * _env(tt.size, sr, 0.6), t, sr, 0.35)
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def quiet_loud_song(bpm: float = 120.0, bars: int = 8, sr: int = SR, pattern: str = "QLQL"):
    """Sections of ``bars`` bars each: Q = quiet pad only, L = loud pad + drums + bass.

    The two section kinds also differ in harmony, like a verse and a chorus.
    Returns (y, [(start, end, kind), ...]).
    """
    rng = np.random.default_rng(7)
    period = 60.0 / bpm
    sec_len = bars * 4 * period
    y = np.zeros(int(len(pattern) * sec_len * sr) + sr)
    spans = []
    for j, kind in enumerate(pattern):
        start = j * sec_len
        spans.append((start, start + sec_len, kind))
        if kind == "Q":
            _add(y, chord_pad([220.0, 261.6, 329.6], sec_len, sr), start, sr, 0.08)
            for b in range(bars * 4):  # soft rim click keeps the beat audible
                _add(y, hat(rng, sr), start + b * period, sr, 0.05)
        else:
            _add(y, chord_pad([196.0, 246.9, 293.7, 392.0], sec_len, sr), start, sr, 0.35)
            for b in range(bars * 4):
                t = start + b * period
                _add(y, kick(sr), t, sr, 0.9 if b % 4 == 0 else 0.6)
                _add(y, hat(rng, sr), t + period / 2, sr, 0.4)
                if b % 2 == 1:
                    _add(y, snare(rng, sr), t, sr, 0.5)
    y = y[: int(len(pattern) * sec_len * sr)]
    return (y / np.abs(y).max() * 0.9).astype(np.float32), spans


def write_wav(path, y: np.ndarray, sr: int = SR) -> None:
    import soundfile as sf

    sf.write(str(path), y, sr, subtype="PCM_16")


def boom_chick(bpm: float = 164.0, duration: float = 24.0, sr: int = SR, seed: int = 3):
    """Country two-beat at ``bpm``: a bass note on every other pulse, a strummed chord + snare on the rest.

    The chord and snare are broadband (what an onset tracker locks on), the
    bass is below 150 Hz: tracked at half the pulse the grid sits on the
    "chick" and the bass falls between its beats. Returns (y, pulse_times).
    """
    rng = np.random.default_rng(seed)
    y = np.zeros(int(duration * sr))
    times = np.arange(0.5, duration - 0.3, 60.0 / bpm)
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    roots = (82.41, 110.0, 98.0, 73.42)  # E2 A2 G2 D2, one per bar of 4 pulses
    for i, tb in enumerate(times):
        root = roots[(i // 4) % len(roots)]
        if i % 2 == 0:
            _add(y, 0.8 * np.sin(2 * np.pi * root * t) * _env(n, sr, 0.12), tb, sr)
        else:
            strum = chord_pad((root * 4, root * 5, root * 6, root * 8), 0.25, sr) * _env(int(0.25 * sr), sr, 0.06)
            _add(y, 0.5 * strum, tb, sr)
            _add(y, snare(rng, sr), tb, sr, 0.5)
    return (y / np.abs(y).max() * 0.8).astype(np.float32), times


def kickless_chords(bpm: float = 96.0, duration: float = 24.0, sr: int = SR, seed: int = 1):
    """Piano-like chords on every beat, no drums, and a loud bass note a quarter of a beat after each chord.

    The low band pulses with the bass figure, not with the beat (as in classical or solo-piano
    music): a tracker that counts the low band's flux is pulled off the chords. Returns (y, beat_times).
    """
    rng = np.random.default_rng(seed)
    y = np.zeros(int(duration * sr))
    beats = np.arange(0.5, duration - 0.5, 60.0 / bpm)
    period = 60.0 / bpm
    t = np.arange(int(0.6 * sr)) / sr
    tb = np.arange(int(0.4 * sr)) / sr
    for b in beats:
        f0 = 261.6 * 2 ** (rng.integers(0, 7) / 12)
        chord = sum(np.sin(2 * np.pi * f0 * k * t) * np.exp(-t / 0.25) / k for k in (1, 1.26, 1.5, 2, 3, 4))
        _add(y, 0.3 * chord, b, sr)
        fb = 55.0 * 2 ** (rng.integers(0, 5) / 12)
        _add(y, 8.0 * np.sin(2 * np.pi * fb * tb) * np.exp(-tb / 0.15), b + 0.25 * period, sr)
    return (y / np.abs(y).max() * 0.8).astype(np.float32), beats
