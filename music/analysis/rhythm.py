"""Tempo, beats, downbeats and an onset curve (librosa 0.11, ISC).

How it works
------------
1. Onset strength envelope: spectral flux on a mel spectrogram (hop 512),
   low / mid / high bands normalised separately so hats do not outvote kicks.
2. Global tempo by librosa's autocorrelation tempo estimator with its default
   log-normal prior (centred on 120 BPM, one octave wide). That prior is the
   only octave-error guard: it is a generic prior over musical tempi, not a
   per-track hint, so a 90 or 150 BPM track keeps its own octave.
3. Beats by librosa's dynamic-programming tracker seeded with that tempo.
4. The tempo is then refined from the beats themselves (mean of the
   intervals between onset-backed beats close to the median): the
   autocorrelation lag is quantised to whole frames (about 5 % at 120 BPM),
   the beat times are not. Beats the tracker placed without onset evidence
   (pad intros, breaks) are re-spaced on an even grid at that tempo, since
   the tracker's own period is rounded to whole frames and drifts there.
5. Each beat is snapped to the strongest fine-resolution onset within
   [-70, +20] ms, which removes the grid's 20-40 ms late bias.
6. Downbeats: each beat gets downbeat evidence (low-frequency amplitude +
   harmonic change (chroma) + full-band onset strength at quarter weight); a
   Viterbi pass over the 4 bar phases labels beats 1..4, keeping one phase
   unless several bars of evidence ask for a change (the tracker can slip
   half a beat in a break). Meter is assumed to be 4/4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOP = 512
SNAP_HOP = 128
BANDS = ((0.0, 200.0, 1.0), (200.0, 2000.0, 1.0), (2000.0, 1e9, 0.5))  # Hz, Hz, weight
PHASE_SWITCH_COST = 4.0  # std devs of downbeat evidence to re-phase the bar
WEAK_BEAT = 0.1  # beats with onset strength < this x p90 are the tracker's guesses
METER = 4
ONSET_CURVE_HOP_S = 0.1
LOW_BAND_HZ = 150.0


def _empty(duration: float) -> dict[str, Any]:
    return {
        "tempo": 0.0,
        "beats": [],
        "downbeats": [],
        "beat_positions": [],
        "meter": METER,
        "onset_curve": {"hop_s": ONSET_CURVE_HOP_S, "values": []},
    }


def _pool_curve(values: np.ndarray, frame_rate: float, hop_s: float, duration: float) -> list[float]:
    """Max-pool a frame-rate curve into fixed ``hop_s`` bins covering ``duration``."""
    n_bins = max(1, int(np.ceil(duration / hop_s - 1e-9)))
    if values.size == 0:
        return [0.0] * n_bins
    starts = np.floor(np.arange(n_bins) * hop_s * frame_rate).astype(int)
    starts = np.clip(starts, 0, values.size - 1)
    pooled = np.maximum.reduceat(values, starts)
    return [round(float(v), 3) for v in pooled]


def banded_onset_strength(y: np.ndarray, sr: int) -> np.ndarray:
    """Spectral flux with low / mid / high mel bands weighed alike.

    librosa's default envelope averages the flux over 128 mel bands; a
    broadband hi-hat lights up far more bands than a kick, so off-beat hats
    pull the tracker half a beat off. Each band group's flux is scaled to unit
    standard deviation before summing (high band at half weight).
    """
    import librosa

    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP, n_mels=128))
    freqs = librosa.mel_frequencies(n_mels=128, fmax=sr / 2)
    env = np.zeros(S.shape[1])
    for lo, hi, weight in BANDS:
        rows = (freqs >= lo) & (freqs < hi)
        if not rows.any():
            continue
        o = librosa.onset.onset_strength(S=S[rows], sr=sr, hop_length=HOP)
        sd = float(o.std())
        if sd > 0:
            env[: o.size] += weight * o / sd
    return env


def _drop_silent_edges(y: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    """Remove leading/trailing beats whose surroundings are below -60 dB of the peak."""
    if beat_frames.size == 0:
        return beat_frames
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=HOP)[0]
    floor = 1e-3 * float(rms.max())
    idx = np.clip(beat_frames, 0, rms.size - 1)
    # loudest frame within +-4 frames (~90 ms) of the beat
    loud = np.array([rms[max(0, i - 4) : i + 5].max() for i in idx])
    keep = np.flatnonzero(loud > floor)
    if keep.size == 0:
        return beat_frames[:0]
    return beat_frames[keep[0] : keep[-1] + 1]


def _snap_beats(y: np.ndarray, sr: int, beat_times: np.ndarray) -> np.ndarray:
    """Move each beat to the strongest fine-resolution onset just before/at it.

    The tracker's grid (hop 512, 2048-point windows) lands 20-40 ms after the
    audible onset; cuts on the beat should not. A short-window onset envelope
    (512-point FFT, hop 128 = 5.8 ms) is searched from 70 ms before to 20 ms
    after each beat; beats with no onset there (silence, held notes) stay put.
    """
    import librosa

    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=SNAP_HOP, n_fft=512, n_mels=64)
    if env.size == 0 or float(env.max()) <= 0:
        return beat_times
    times = librosa.times_like(env, sr=sr, hop_length=SNAP_HOP)
    floor = 0.05 * float(env.max())
    out = beat_times.copy()
    for i, b in enumerate(beat_times):
        lo, hi = np.searchsorted(times, [b - 0.07, b + 0.02])
        if hi > lo:
            j = lo + int(np.argmax(env[lo:hi]))
            if env[j] > floor:
                out[i] = times[j]
    # Keep beats strictly increasing (two beats never snap onto one onset).
    for i in range(1, out.size):
        if out[i] <= out[i - 1]:
            out[i] = beat_times[i]
    return out


def _strength_at(onset_env: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Onset strength at each beat frame (max over +-2 frames)."""
    n = onset_env.size
    return np.array([onset_env[max(0, f - 2) : min(n, f + 3)].max() if n else 0.0 for f in frames])


def regularise_beats(
    times: np.ndarray, strength: np.ndarray, duration: float, weak: float = WEAK_BEAT
) -> tuple[np.ndarray, float]:
    """Replace beats placed without onset evidence by an even grid; return (beats, BPM).

    librosa's tracker rounds the beat period to whole frames (22 frames =
    117.5 BPM for a 120 BPM song at hop 512). Where onsets guide it that does
    not matter; across a beatless stretch (a pad intro, a break) the grid
    drifts by ~2 % per beat. Beats whose onset strength is under ``weak`` x
    the 90th percentile are treated as guesses: runs of them between two
    anchored beats are re-spaced evenly, and leading / trailing runs are
    extrapolated from the nearest anchor at the tempo measured on anchored
    beats (kept inside ``[0, duration)``).
    """
    if times.size < 2:
        return times, refine_tempo(times)
    strong = strength >= weak * float(np.percentile(strength, 90))
    anchors = np.flatnonzero(strong)
    if anchors.size < 2:
        return times, refine_tempo(times)
    # tempo from consecutive anchored beats only
    pairs = [(times[b] - times[a]) / (b - a) for a, b in zip(anchors[:-1], anchors[1:], strict=False) if b - a <= 2]
    med = float(np.median(pairs)) if pairs else float(np.median(np.diff(times)))
    good = [p for p in pairs if abs(p - med) <= 0.2 * med]
    period = float(np.mean(good)) if good else med
    if period <= 0:
        return times, refine_tempo(times)
    out: list[float] = []
    first, last = times[anchors[0]], times[anchors[-1]]
    k = int(np.floor(first / period + 1e-6))
    out.extend(first - period * np.arange(k, 0, -1))
    for a, b in zip(anchors[:-1], anchors[1:], strict=False):
        out.append(times[a])
        if b - a > 1:
            n = max(1, int(round((times[b] - times[a]) / period)))
            out.extend(times[a] + (times[b] - times[a]) * np.arange(1, n) / n)
    out.append(last)
    k = int(np.floor((duration - 0.05 - last) / period + 1e-6))
    out.extend(last + period * np.arange(1, k + 1))
    beats = np.asarray(out)
    # keep the span the tracker (minus silent edges) covered: no beats in silence
    lo, hi = times[0] - 0.5 * period, times[-1] + 0.5 * period
    beats = beats[(beats >= max(0.0, lo)) & (beats <= hi)]
    return beats, 60.0 / period


def refine_tempo(beat_times: np.ndarray) -> float:
    """Tempo (BPM) from beat times: mean inter-beat interval near the median.

    Intervals more than 20 % away from the median (a skipped or doubled beat)
    are ignored so one tracking slip does not bias the estimate.
    """
    if beat_times.size < 2:
        return 0.0
    ibi = np.diff(beat_times)
    med = float(np.median(ibi))
    if med <= 0:
        return 0.0
    good = ibi[np.abs(ibi - med) <= 0.2 * med]
    return float(60.0 / good.mean()) if good.size else float(60.0 / med)


def _beat_features(
    y: np.ndarray, sr: int, onset_env: np.ndarray, beat_frames: np.ndarray, meter: int = METER
) -> np.ndarray:
    """Per-beat downbeat evidence, weighted; shape (n_beats, 3).

    Columns:
    * low-frequency (< 150 Hz: kick, bass) amplitude in the 100 ms after the
      beat, linear, relative to its maximum: bars start on the strongest kick
      / a new bass note;
    * harmonic change: chroma cosine distance between the ``meter`` beats
      before and the ``meter`` beats after the beat (chords change on bar
      lines; bar-long windows average out hats and noise);
    * full-band onset strength at quarter weight: accents count, but snares
      on 2 and 4 are strong onsets too and must not win on their own.
    """
    import librosa

    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    n_frames = S.shape[1]
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    low = np.sqrt(S[(freqs > 20.0) & (freqs <= LOW_BAND_HZ)].sum(axis=0))
    chroma = librosa.feature.chroma_stft(S=S, sr=sr)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)

    n = beat_frames.size
    feats = np.zeros((n, 3), dtype=np.float64)
    win = max(1, int(round(0.1 * sr / HOP)))
    onset_max = float(onset_env.max()) or 1.0
    low_max = float(low.max()) or 1.0
    bounds = np.concatenate([beat_frames, [n_frames]])
    for i, f in enumerate(beat_frames):
        f = int(min(f, n_frames - 1))
        feats[i, 0] = low[f : f + win].mean() / low_max
        if i >= 1 and i + 1 < bounds.size:
            p0 = bounds[max(0, i - meter)]
            p1 = bounds[min(bounds.size - 1, i + meter)]
            prev = (csum[:, f] - csum[:, p0]) / max(1, f - p0)
            cur = (csum[:, p1] - csum[:, f]) / max(1, p1 - f)
            den = float(np.linalg.norm(prev) * np.linalg.norm(cur))
            feats[i, 1] = 1.0 - float(prev @ cur) / den if den > 0 else 0.0
        a, b = max(0, f - 2), min(onset_env.size, f + 3)
        feats[i, 2] = 0.25 * onset_env[a:b].max() / onset_max if b > a else 0.0
    return feats


def bar_positions(evidence: np.ndarray, meter: int = METER, switch_cost: float = PHASE_SWITCH_COST) -> list[int]:
    """Position in the bar (1..meter) of every beat, by Viterbi over bar phases.

    States are the position of a beat; a beat normally advances 1 -> 2 -> 3 ->
    4 -> 1. Labelling beat ``i`` a downbeat earns its standardised downbeat
    evidence; jumping to another position costs ``switch_cost`` (in standard
    deviations). So one global phase wins unless several bars disagree, e.g.
    after the tracker slipped half a beat in a break: the phase then resets
    there instead of staying wrong for the rest of the song.
    """
    n = evidence.size
    if n == 0:
        return []
    # Centre on the local mean (+-2 bars) so a loud chorus does not make all
    # of its beats look like downbeats, then scale by the global spread.
    w = 2 * meter
    csum = np.concatenate([[0.0], np.cumsum(evidence)])
    idx = np.arange(n)
    lo, hi = np.maximum(0, idx - w), np.minimum(n, idx + w + 1)
    local = evidence - (csum[hi] - csum[lo]) / (hi - lo)
    sd = float(local.std())
    e = local / sd if sd > 1e-12 else np.zeros(n)
    score = np.full(meter, 0.0)
    score[0] = e[0]
    back = np.zeros((n, meter), dtype=int)
    for i in range(1, n):
        new = np.empty(meter)
        for s in range(meter):
            prev_ok = (s - 1) % meter
            cand = score - switch_cost
            cand[prev_ok] = score[prev_ok]
            j = int(np.argmax(cand))
            back[i, s] = j
            new[s] = cand[j] + (e[i] if s == 0 else 0.0)
        score = new
    states = [int(np.argmax(score))]
    for i in range(n - 1, 0, -1):
        states.append(int(back[i, states[-1]]))
    return [s + 1 for s in reversed(states)]


def analyze_rhythm(y: np.ndarray, sr: int) -> dict[str, Any]:
    """Tempo, beats, downbeats, beat positions and a ~10 Hz onset curve.

    Returns ``{"tempo": float BPM, "beats": [s], "downbeats": [s],
    "beat_positions": [1..4 per beat], "meter": 4,
    "onset_curve": {"hop_s": 0.1, "values": [0..1]}}`` (plain Python types).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    duration = y.size / float(sr)
    if y.size < sr or not np.any(np.abs(y) > 1e-6):
        return _empty(duration)

    onset_env = banded_onset_strength(y, sr)
    frame_rate = sr / HOP
    peak = float(onset_env.max())
    norm = onset_env / peak if peak > 0 else onset_env
    curve = _pool_curve(norm, frame_rate, ONSET_CURVE_HOP_S, duration)

    tempo0 = float(librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=HOP)[0])
    # trim=False: librosa's trimming drops every beat of a quiet intro (a pad
    # over soft clicks), which is exactly where clips may start. We only drop
    # beats that fall in near-silence (leading/trailing digital silence).
    _, beat_frames = librosa.beat.beat_track(
        onset_envelope=onset_env, sr=sr, hop_length=HOP, bpm=tempo0, units="frames", trim=False
    )
    beat_frames = _drop_silent_edges(y, np.asarray(beat_frames, dtype=int))
    beat_times = librosa.frames_to_time(beat_frames, sr=sr, hop_length=HOP)
    beat_times, tempo = regularise_beats(beat_times, _strength_at(onset_env, beat_frames), duration)
    if beat_times.size < 2:
        tempo = tempo0
    beat_frames = np.clip(librosa.time_to_frames(beat_times, sr=sr, hop_length=HOP), 0, onset_env.size - 1)

    if beat_frames.size == 0:
        out = _empty(duration)
        out["tempo"] = round(tempo, 2)
        out["onset_curve"]["values"] = curve
        return out

    feats = _beat_features(y, sr, onset_env, beat_frames)
    positions = bar_positions(feats.sum(axis=1))
    beats = [round(float(t), 3) for t in _snap_beats(y, sr, beat_times)]
    downbeats = [b for b, p in zip(beats, positions, strict=True) if p == 1]
    return {
        "tempo": round(tempo, 2),
        "beats": beats,
        "downbeats": downbeats,
        "beat_positions": positions,
        "meter": METER,
        "onset_curve": {"hop_s": ONSET_CURVE_HOP_S, "values": curve},
    }
