"""Tempo, beats, downbeats, meter and an onset curve (librosa 0.11 as the toolbox).

Measured on real songs (the GTZAN dev set, ``make eval`` / ``bench/bench_gtzan.py``),
not only on click tracks. How it works:

1. **One spectrogram**: STFT (2048 points, hop 256 = 11.6 ms at 22.05 kHz),
   128-band log-mel and a 12-bin chroma from the same power spectrum.
2. **Onset evidence**: log-mel spectral flux (positive differences over two
   frames). Two aggregations across the bands: the *median* (an onset counts
   when it is broadband — a drum hit or a chord — so a busy hi-hat or one
   loud partial cannot pull the pulse to the off-beat or to a triplet grid)
   and the *mean*; the tracker's activation is their sum, each scaled to its
   99th percentile, with the flux below 150 Hz (kick, bass) at 3/4 weight —
   unless the low band does not pulse with the beats it gives (it stands out
   on them less than the broadband flux does: no kick), then without it.
3. **Tempo with an explicit metrical level**: on the autocorrelation
   tempogram of the median flux, the *family* (a tempo and its octaves) is
   the tempogram peak best supported by the strength at half and twice its
   tempo (:func:`metrical_family`: a 3/2 or 5/4 cross-rhythm peak has no such
   support); the *octave* within it is librosa's estimator's (log-normal
   prior around 120 BPM) when that lies in the family, else the family's
   octave the prior favours. The beat tracker may then only move within
   ±15 % of it, so it cannot silently double or halve the tempo on its own.
4. **Beats**: Viterbi decoding of a beat-period state space
   (:mod:`music.analysis.beatdbn`, the bar-pointer model of madmom's DBN
   tracker, our own observations): the whole-track best path keeps its phase
   through breaks and syncopation. Beats in leading/trailing near-silence are
   dropped; frame times are corrected for the analysis window's latency
   (:data:`ONSET_LATENCY_S`). The tempo is refined from the beat intervals.
   **Half-pulse check**: when the kick/bass flux half-way between the beats
   outweighs the flux on them (:data:`HALF_PULSE_LOW_RATIO`), the grid sits
   on every other pulse (the snare, the "chick") and the track is re-tracked
   at twice the tempo.
5. **Confidence** (0..1, per track): how much more onset evidence sits on the
   beats than half-way between them (1 = every beat on a clear onset and
   nothing between; ~0 = no pulse). Stored with the analysis.
6. **Downbeats and meter**: per-beat features (onsets below 150 Hz, full-band
   and above 2 kHz at the beat; low-band energy and loudness over the beat;
   harmonic change between the 1-4 beats before and after it, from the STFT
   chroma, a constant-Q chroma and the bass line's constant-Q spectrum), each
   relative to its ±4-beat neighbourhood, with their change from the
   previous beat and the columns of the two beats either side (bar
   patterns: kick on 1, snare on 2). A logistic model
   (``downbeat_model.json``, fitted on the GTZAN dev set's annotated beats by
   ``bench/bench_gtzan.py --fit-downbeats``; 120 weights over generic
   features, not per-song rules) turns them into downbeat log-odds. For each
   bar length (3 or 4 beats; 2 when the beats are ternary) a Viterbi pass over
   the bar positions (:func:`bar_positions`) finds the phase, re-phasing only
   where two bars or more disagree; the bar length whose downbeats stand out
   most from the other beats wins (4 unless 3 or 2 is clearly better). The
   subdivision (binary or ternary: onsets between beats at 1/2 or at 1/3 and
   2/3) gives the time signature: 4/4, 3/4, 12/8, 9/8, 6/8.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HOP = 256
N_FFT = 2048
#: Frames of the power spectrogram the chroma's tuning is estimated on (every k-th).
TUNING_STRIDE = 4
N_MELS = 128
METER = 4  # when there is no evidence either way
LOW_BAND_HZ = 150.0
HIGH_BAND_HZ = 2000.0
FLUX_LAG = 2
LOW_BAND_WEIGHT = 0.75  # the kick/bass flux's share in the tracker's activation (mean and median count 1)
TEMPO_WINDOW = 1.15  # the tracker stays within tempo / 1.15 .. tempo * 1.15
MIN_BPM, MAX_BPM = 30.0, 300.0
TEMPO_AC_SECONDS = 8.0  # the tempogram's autocorrelation window (librosa's estimator's default)
# Tempogram columns used for the tempo: one frame in this many (the estimate is their time mean;
# measured on the 50 GTZAN dev clips: the same tempo, beats, downbeats and meter as every frame,
# W5's 3-min track: rhythm analysis 2.09 -> 1.49 s).
TEMPOGRAM_STRIDE = 4
FAMILY_OCTAVE_WEIGHT = 0.5  # metrical_family: the weight of the strength at half and twice a peak's tempo
FAMILY_TOLERANCE_OCTAVES = 0.06  # librosa's estimate is "in the family" within ~4 % of an octave ratio
PHASE_SWITCH_COST = 4.0
#: The kick/bass flux between the tracked beats over the flux on them above which the beats are
#: taken to be every other pulse and the track is re-tracked at twice the tempo (the kick does
#: not fall mostly between the beats of a correct grid; GTZAN dev: 1.88-4.25 on the half-tempo
#: clips it flags, at most 1.45 on a correctly tracked one; the synthetic rock of the tests at
#: 118.9 BPM, tracked at 59.5 before, 1.53).
HALF_PULSE_LOW_RATIO = 1.5
METER_SWITCH_COST = 8.0  # the analyser re-phases the bar only when two bars or more disagree
METER_CANDIDATES = (2, 3, 4)
#: Evidence a bar length needs over 4 beats per bar (std devs of the log-odds contrast).
METER_PRIOR = {4: 0.0, 3: 0.15, 2: 0.35}
ONSET_CURVE_HOP_S = 0.1
#: The flux of a centred 93-ms window rises before the attack reaches the window's centre: beats
#: from frame centres come out early by 30 ms on click tracks and 27 ms (median) against the GTZAN
#: dev set's annotations. Frame times are shifted by this much.
ONSET_LATENCY_S = 0.028

#: Per-beat downbeat features, in order (see :func:`downbeat_features`). Each is taken relative
#: to its ±4-beat neighbourhood and standardised; the first nine also as their change from the
#: previous beat; then every beat sees the columns of the two beats before and after it.
DOWNBEAT_FEATURES = (
    "low_onset",
    "full_onset",
    "high_onset",
    "low_energy",
    "loudness",
    "chroma_change_1",
    "chroma_change_2",
    "chroma_change_3",
    "chroma_change_4",
    "cqt_chroma_change_1",
    "cqt_chroma_change_2",
    "cqt_chroma_change_4",
    "bass_change_1",
    "bass_change_2",
    "bass_change_4",
)
N_DIFF_FEATURES = 9
CONTEXT_BEATS = 2
DOWNBEAT_MODEL_PATH = Path(__file__).with_name("downbeat_model.json")
CQT_FMIN_HZ = 32.703  # C1
BASS_BINS = slice(4, 40)  # E1..D#4: the bass line's three octaves of the constant-Q bins


@functools.cache
def downbeat_model() -> tuple[np.ndarray, float]:
    """(weights, intercept) of the downbeat logistic model (``downbeat_model.json`` next to this module)."""
    data = json.loads(DOWNBEAT_MODEL_PATH.read_text())
    w = np.asarray(data["weights"], dtype=np.float64)
    expected = (len(DOWNBEAT_FEATURES) + N_DIFF_FEATURES) * (2 * CONTEXT_BEATS + 1)
    if w.size != expected or list(data["features"]) != list(DOWNBEAT_FEATURES):
        raise ValueError(f"{DOWNBEAT_MODEL_PATH.name} does not match the feature layout ({w.size} != {expected})")
    return w, float(data["intercept"])


def _empty(duration: float) -> dict[str, Any]:
    return {
        "tempo": 0.0,
        "beats": [],
        "downbeats": [],
        "beat_positions": [],
        "meter": METER,
        "time_signature": "",
        "confidence": 0.0,
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


def constant_q(y: np.ndarray, sr: int) -> np.ndarray:
    """Constant-Q magnitude of ``y``, 7 octaves from C1 at 12 bins per octave (:attr:`Spectra._cqt`)."""
    import librosa

    return np.abs(librosa.cqt(y=y, sr=sr, hop_length=HOP, fmin=CQT_FMIN_HZ, n_bins=84, bins_per_octave=12))


class Spectra:
    """The spectra every rhythm step reads, computed once per track."""

    def __init__(self, y: np.ndarray, sr: int, *, cqt: Future[np.ndarray] | None = None) -> None:
        """``cqt``: :func:`constant_q` of ``y``, being computed in another thread (else computed here when asked)."""
        import librosa

        self.sr = sr
        self._cqt_ahead = cqt
        self.fps = sr / HOP
        power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
        mel_basis = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS)
        self.mel_db = librosa.power_to_db(mel_basis @ power).astype(np.float32)
        self.mel_freqs = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=sr / 2)[1:-1]
        # the tuning from every TUNING_STRIDE-th frame: librosa's estimate_tuning (a pitch track of
        # every frame) was ~1/3 of the rhythm step's time on a cold process
        tuning = librosa.estimate_tuning(S=power[:, ::TUNING_STRIDE], sr=sr, bins_per_octave=12)
        self.chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=tuning).astype(np.float32)
        self.n_frames = power.shape[1]
        self._y = y

    @functools.cached_property
    def _cqt(self) -> np.ndarray:
        """Constant-Q magnitude, 7 octaves from C1 at 12 bins per octave."""
        C = self._cqt_ahead.result() if self._cqt_ahead is not None else constant_q(self._y, self.sr)
        return C[:, : self.n_frames]

    @functools.cached_property
    def cqt_chroma(self) -> np.ndarray:
        """12-bin chroma folded from the constant-Q bins (resolves the low register the STFT blurs)."""
        import librosa

        fold = librosa.filters.cq_to_chroma(84, bins_per_octave=12, fmin=CQT_FMIN_HZ)
        chroma = fold @ self._cqt
        return chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-10)

    @functools.cached_property
    def bass(self) -> np.ndarray:
        """Constant-Q power over the three octaves from E1 (the bass line's notes)."""
        return self._cqt[BASS_BINS] ** 2

    @functools.cached_property
    def env_mean(self) -> np.ndarray:
        """Flux averaged over all bands."""
        return self.flux()

    @functools.cached_property
    def env_median(self) -> np.ndarray:
        """Flux, median over all bands (broadband onsets)."""
        return self.flux(aggregate="median")

    @functools.cached_property
    def env_low(self) -> np.ndarray:
        """Flux below :data:`LOW_BAND_HZ` (kick, bass)."""
        return self.flux(self.mel_freqs < LOW_BAND_HZ)

    @functools.cached_property
    def env_high(self) -> np.ndarray:
        """Flux from :data:`HIGH_BAND_HZ` up (hats, cymbals)."""
        return self.flux(self.mel_freqs >= HIGH_BAND_HZ)

    def flux(self, rows: np.ndarray | None = None, aggregate: str = "mean") -> np.ndarray:
        """Positive log-mel difference over :data:`FLUX_LAG` frames, aggregated over ``rows``."""
        S = self.mel_db if rows is None else self.mel_db[rows]
        if S.shape[0] == 0 or S.shape[1] <= FLUX_LAG:
            return np.zeros(self.n_frames)
        d = np.maximum(0.0, S[:, FLUX_LAG:] - S[:, :-FLUX_LAG])
        agg = np.median(d, axis=0) if aggregate == "median" else d.mean(axis=0)
        return np.concatenate([np.zeros(FLUX_LAG), agg]).astype(np.float64)


def _scaled(x: np.ndarray) -> np.ndarray:
    p = float(np.percentile(x, 99)) if x.size else 0.0
    return np.clip(x / p, 0.0, 1.0) if p > 0 else np.zeros_like(x)


def _strength_at(g: np.ndarray, bpm: np.ndarray) -> Any:
    """t (BPM) -> the time-mean tempogram ``g`` interpolated on a log-tempo axis (0 outside it)."""
    ok = np.isfinite(bpm) & (bpm > 0)
    x, y = np.log2(bpm[ok])[::-1], g[ok][::-1]  # increasing tempo

    def at(t: float) -> float:
        return float(np.interp(np.log2(t), x, y, left=0.0, right=0.0))

    return at


def metrical_family(g: np.ndarray, bpm: np.ndarray, lo: float = 40.0, hi: float = 240.0) -> float:
    """The tempo-tempogram peak (BPM) best supported by its octave neighbours, 0 without a peak.

    ``g`` is the time-mean autocorrelation tempogram at ``bpm``. Each local peak in ``lo..hi`` scores
    its own strength plus :data:`FAMILY_OCTAVE_WEIGHT` times the strength at half and twice its
    tempo: the pulse of the metre has the beat level's divisions and groupings above and below it,
    while a peak at 3/2 or 5/4 of the beat (a cross-rhythm, an accent pattern) has neither.
    """
    ok = np.isfinite(bpm) & (bpm > 0)
    if np.count_nonzero(ok) < 3:
        return 0.0
    at = _strength_at(g, bpm)
    peaks = [
        float(bpm[i])
        for i in range(1, g.size - 1)
        if ok[i] and lo <= bpm[i] <= hi and g[i] > g[i - 1] and g[i] >= g[i + 1]
    ]
    if not peaks:
        return 0.0
    return max(peaks, key=lambda t: at(t) + FAMILY_OCTAVE_WEIGHT * (at(t / 2.0) + at(2.0 * t)))


def tempogram_columns(env: np.ndarray, win: int, stride: int = 1) -> np.ndarray:
    """Every ``stride``-th column of ``librosa.feature.tempogram(onset_envelope=env, win_length=win)``.

    The same centred, Hann-windowed, max-normalised autocorrelations as librosa's (``stride`` 1
    gives its tempogram exactly); the tempo estimate only uses their time mean, which a regular
    subset of the frames estimates at a fraction of the FFTs (the windows are 8 s long, the
    frames 11.6 ms apart).
    """
    import librosa

    n = env.shape[-1]
    padded = np.pad(env, (win // 2, win // 2), mode="linear_ramp", end_values=[0, 0])
    frames = librosa.util.frame(padded, frame_length=win, hop_length=1)[:, :n:stride]
    window = librosa.filters.get_window("hann", win, fftbins=True)
    ac = librosa.autocorrelate(frames * window[:, None], axis=-2)
    return np.asarray(librosa.util.normalize(ac, norm=np.inf, axis=-2))


def estimate_tempo(env: np.ndarray, sr: int) -> float:
    """Global tempo (BPM) from the onset envelope, with an explicit metrical-level decision.

    The family (a tempo and its octaves) comes from :func:`metrical_family`; the octave within it
    from librosa's estimator (the tempogram's mean under a log-normal prior around 120 BPM). When
    librosa's choice lies outside the family (a 3/2 or 5/4 cross-rhythm peak outweighed the beat's
    own under the prior), the family's octave the prior favours is taken instead.
    """
    import librosa

    if env.size < 8 or not np.any(env > 0):
        return 0.0
    win = int(round(TEMPO_AC_SECONDS * sr / HOP))
    tg = tempogram_columns(env, win, TEMPOGRAM_STRIDE)
    base = float(librosa.feature.tempo(tg=tg, sr=sr, hop_length=HOP, ac_size=TEMPO_AC_SECONDS)[0])
    g = tg.mean(axis=1)
    bpm = librosa.tempo_frequencies(tg.shape[0], sr=sr, hop_length=HOP)
    family = metrical_family(g, bpm)
    if family <= 0 or base <= 0:
        return base
    octaves = np.log2(base / family)
    if abs(octaves - round(octaves)) <= FAMILY_TOLERANCE_OCTAVES:
        return base
    at = _strength_at(g, bpm)

    def weighted(t: float) -> float:
        return at(t) * float(np.exp(-0.5 * np.log2(t / 120.0) ** 2))  # librosa's default prior: 120 BPM, one octave

    options = [t for t in (family / 2.0, family, 2.0 * family) if MIN_BPM <= t <= MAX_BPM]
    return max(options, key=weighted)


def _drop_silent_edges(y: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    """Remove leading/trailing beats whose surroundings are below -60 dB of the peak."""
    if beat_frames.size == 0:
        return beat_frames
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=HOP)[0]
    floor = 1e-3 * float(rms.max())
    idx = np.clip(beat_frames, 0, rms.size - 1)
    loud = np.array([rms[max(0, i - 8) : i + 9].max() for i in idx])  # +-90 ms
    keep = np.flatnonzero(loud > floor)
    if keep.size == 0:
        return beat_frames[:0]
    return beat_frames[keep[0] : keep[-1] + 1]


def refine_tempo(beat_times: np.ndarray) -> float:
    """Tempo (BPM) from beat times: mean inter-beat interval near the median.

    Intervals more than 8 % away from the median (a skipped or doubled beat,
    the tracker's wander through a beatless pad) are ignored so they do not
    bias the estimate.
    """
    if beat_times.size < 2:
        return 0.0
    ibi = np.diff(beat_times)
    med = float(np.median(ibi))
    if med <= 0:
        return 0.0
    good = ibi[np.abs(ibi - med) <= 0.08 * med]
    return float(60.0 / good.mean()) if good.size else float(60.0 / med)


def _peak_mean(env: np.ndarray, frames: np.ndarray) -> float:
    n = env.size
    return float(np.mean([env[max(0, f - 2) : min(n, f + 3)].max() for f in frames])) if frames.size else 0.0


def offbeat_low_ratio(env_low: np.ndarray, beat_frames: np.ndarray) -> float:
    """Kick/bass onset evidence half-way between the beats over the evidence on them (0 without beats)."""
    if beat_frames.size < 4:
        return 0.0
    mids = ((beat_frames[:-1] + beat_frames[1:]) // 2).astype(int)
    on = _peak_mean(env_low, beat_frames)
    return _peak_mean(env_low, mids) / on if on > 0 else 0.0


def beat_confidence(activation: np.ndarray, beat_frames: np.ndarray) -> float:
    """0..1: onset evidence on the beats against half-way between them."""
    if beat_frames.size < 4 or activation.size == 0:
        return 0.0
    mids = ((beat_frames[:-1] + beat_frames[1:]) // 2).astype(int)
    on, off = _peak_mean(activation, beat_frames), _peak_mean(activation, mids)
    return round(float(np.clip((on - off) / on, 0.0, 1.0)) if on > 0 else 0.0, 3)


def subdivision(env: np.ndarray, beat_frames: np.ndarray) -> int:
    """2 (binary) or 3 (ternary): where the onsets between consecutive beats fall.

    The onset envelope of every beat period is resampled to 12 bins; ternary
    when the bins at 1/3 and 2/3 of the beat hold more than the bins at 1/2
    (and its neighbours at 1/4, 3/4).
    """
    if beat_frames.size < 5:
        return 2
    prof = np.zeros(12)
    for a, b in zip(beat_frames[:-1], beat_frames[1:], strict=False):
        if b - a < 6:
            continue
        seg = env[a:b]
        prof += np.interp(np.linspace(0, seg.size, 12, endpoint=False), np.arange(seg.size), seg)
    ternary = (prof[4] + prof[8]) / 2.0
    binary = prof[6] + 0.5 * (prof[3] + prof[9]) / 2.0
    return 3 if ternary > 1.1 * binary else 2


def _change(M: np.ndarray, bounds: np.ndarray, w: int) -> np.ndarray:
    """Cosine distance between the mean of ``M`` over the ``w`` beats before and after each beat."""
    n = bounds.size - 1
    csum = np.concatenate([np.zeros((M.shape[0], 1)), np.cumsum(M, axis=1)], axis=1)
    out = np.zeros(n)
    for i in range(w, n - w + 1):
        f, a0, a1 = int(bounds[i]), int(bounds[i - w]), int(bounds[i + w])
        if not (a0 < f < a1):
            continue
        prev = (csum[:, f] - csum[:, a0]) / (f - a0)
        cur = (csum[:, a1] - csum[:, f]) / (a1 - f)
        den = float(np.linalg.norm(prev) * np.linalg.norm(cur))
        out[i] = 1.0 - float(prev @ cur) / den if den > 0 else 0.0
    return out


def _relative(x: np.ndarray) -> np.ndarray:
    """``x`` minus its mean over the 9 beats around it, standardised over the track."""
    if x.size == 0:
        return x
    local = np.convolve(np.pad(x, 4, mode="edge"), np.ones(9) / 9.0, mode="valid")
    r = x - local
    sd = float(r.std())
    return (r - r.mean()) / sd if sd > 1e-12 else np.zeros_like(r)


def downbeat_features(sp: Spectra, beat_frames: np.ndarray) -> np.ndarray:
    """Per-beat downbeat features: (n_beats, (15 + 9) x 5), see :data:`DOWNBEAT_FEATURES`.

    Onsets (low < 150 Hz, full, high >= 2 kHz) at the beat, low-band energy and
    loudness over the beat, harmonic change (STFT chroma over 1-4 beats, CQT
    chroma and the bass line's constant-Q spectrum over 1, 2 and 4 beats) —
    downbeats are where the bass note and the chord change and the kick
    lands. Each relative to its neighbourhood (a loud chorus does not make all
    its beats downbeats); with its change from the previous beat and the
    columns of the two beats on either side, so the model sees bar patterns
    (kick on 1, snare on 2) and not one beat alone.
    """
    n = beat_frames.size
    nf = sp.n_frames
    frames = np.clip(beat_frames.astype(int), 0, nf - 1)
    bounds = np.concatenate([frames, [nf]])
    low_rows = sp.mel_freqs < LOW_BAND_HZ
    power = 10.0 ** (sp.mel_db / 10.0)
    low_energy = np.log1p(power[low_rows].sum(axis=0)) if low_rows.any() else np.zeros(nf)
    loud = sp.mel_db.mean(axis=0)

    def peak(e: np.ndarray) -> np.ndarray:
        return np.array([e[max(0, f - 3) : f + 4].max() for f in frames]) if n else np.zeros(0)

    def over_beat(e: np.ndarray) -> np.ndarray:
        return np.array([e[f : max(f + 1, int(bounds[i + 1]))].mean() for i, f in enumerate(frames)])

    raw = [peak(sp.env_low), peak(sp.env_mean), peak(sp.env_high), over_beat(low_energy), over_beat(loud)]
    raw += [_change(sp.chroma, bounds, w) for w in (1, 2, 3, 4)]
    raw += [_change(sp.cqt_chroma, bounds, w) for w in (1, 2, 4)]
    raw += [_change(sp.bass, bounds, w) for w in (1, 2, 4)]
    G = np.stack([_relative(x) for x in raw], axis=1) if n else np.zeros((0, len(DOWNBEAT_FEATURES)))
    base = G[:, :N_DIFF_FEATURES]
    D = np.vstack([np.zeros((1, N_DIFF_FEATURES)), np.diff(base, axis=0)]) if n else base
    X = np.concatenate([base, D, G[:, N_DIFF_FEATURES:]], axis=1)
    P = np.pad(X, ((CONTEXT_BEATS, CONTEXT_BEATS), (0, 0)))
    return np.concatenate([P[k : k + n] for k in range(2 * CONTEXT_BEATS + 1)], axis=1)


def downbeat_logodds(features: np.ndarray, model: tuple[np.ndarray, float] | None = None) -> np.ndarray:
    """Downbeat log-odds per beat from :func:`downbeat_features` (``model``: weights, intercept)."""
    w, b = downbeat_model() if model is None else model
    return np.asarray(features @ w + b, dtype=np.float64)


def bar_positions(evidence: np.ndarray, meter: int = METER, switch_cost: float = PHASE_SWITCH_COST) -> list[int]:
    """Position in the bar (1..meter) of every beat, by Viterbi over bar phases.

    States are the position of a beat; a beat normally advances 1 -> 2 -> ...
    -> meter -> 1. Labelling beat ``i`` a downbeat earns its standardised
    downbeat evidence; jumping to another position costs ``switch_cost`` (in
    standard deviations). So one global phase wins unless several bars
    disagree, e.g. after the tracker slipped in a break: the phase then resets
    there instead of staying wrong for the rest of the song.
    """
    n = evidence.size
    if n == 0:
        return []
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


def decide_meter(
    logodds: np.ndarray, candidates: tuple[int, ...] = (3, 4), switch_cost: float = METER_SWITCH_COST
) -> tuple[int, list[int]]:
    """(beats per bar, bar positions): the bar length whose downbeats stand out most.

    Two-beat bars are a candidate only for ternary beats (6/8 tracked at the
    dotted quarter); with binary beats 2/4 and 4/4 look alike at the beat
    level and 4/4 is the common case.
    """
    n = logodds.size
    if n < 8:
        return METER, bar_positions(logodds, METER, switch_cost) if n else []
    sd = float(logodds.std()) or 1.0
    best: tuple[float, int, list[int]] | None = None
    for m in candidates:
        pos = np.asarray(bar_positions(logodds, m, switch_cost))
        down = pos == 1
        if down.all() or not down.any():
            continue
        contrast = (float(logodds[down].mean()) - float(logodds[~down].mean())) / sd - METER_PRIOR[m]
        if best is None or contrast > best[0]:
            best = (contrast, m, pos.tolist())
    if best is None:
        return METER, bar_positions(logodds, METER, switch_cost)
    return best[1], best[2]


def time_signature(meter: int, sub: int) -> str:
    if sub == 3:
        return {2: "6/8", 3: "9/8", 4: "12/8"}.get(meter, f"{3 * meter}/8")
    return f"{meter}/4"


def _track(activation: np.ndarray, tempo: float, fps: float) -> np.ndarray:
    """Beat frames of the DBN path whose period stays within :data:`TEMPO_WINDOW` of ``tempo``."""
    from . import beatdbn

    lo = max(MIN_BPM, tempo / TEMPO_WINDOW)
    hi = min(MAX_BPM, tempo * TEMPO_WINDOW)
    taus = np.arange(int(np.floor(60.0 * fps / hi)), int(np.ceil(60.0 * fps / lo)) + 1)
    return beatdbn.track(activation, taus)


def _activation(sp: Spectra, low_weight: float) -> np.ndarray:
    """The tracker's observation: mean + median flux (+ the low band's at ``low_weight``), 0..1."""
    mix = _scaled(sp.env_mean) + _scaled(sp.env_median) + low_weight * _scaled(sp.env_low)
    return np.clip(2.0 * mix / (2.0 + low_weight), 0.0, 1.0)


def _track_pulse(sp: Spectra, activation: np.ndarray, tempo: float) -> tuple[np.ndarray, float]:
    """(beat frames, tempo they were tracked around): :func:`_track`, then the half-pulse check —
    when the kick falls between the beats (:data:`HALF_PULSE_LOW_RATIO`) they are every other
    pulse and the track is re-tracked at twice the tempo."""
    frames = _track(activation, tempo, sp.fps)
    if 2.0 * tempo <= MAX_BPM and offbeat_low_ratio(sp.env_low, frames) > HALF_PULSE_LOW_RATIO:
        return _track(activation, 2.0 * tempo, sp.fps), 2.0 * tempo
    return frames, tempo


def analyze_rhythm(y: np.ndarray, sr: int) -> dict[str, Any]:
    """Tempo, beats, downbeats, bar positions, meter, confidence and a ~10 Hz onset curve.

    Returns ``{"tempo": float BPM, "beats": [s], "downbeats": [s],
    "beat_positions": [1..meter per beat], "meter": beats per bar,
    "time_signature": "4/4" | "3/4" | "6/8" | ..., "confidence": 0..1,
    "onset_curve": {"hop_s": 0.1, "values": [0..1]}}`` (plain Python types).
    """
    y = np.asarray(y, dtype=np.float32)
    duration = y.size / float(sr)
    if y.size < sr or not np.any(np.abs(y) > 1e-6):
        return _empty(duration)

    # The constant-Q spectrum (only the downbeat features read it; it needs nothing but the
    # audio) is computed in a second thread while this one makes the STFT spectra and tracks
    # the beats: its FFTs and resampling release the GIL, so a track analysed with a core to
    # spare (the clip pipeline's child once the video analysers are done) takes ~0.25 s less
    # of its ~0.8 s here; the same numbers either way.  The pool's exit waits for it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rhythm-cqt") as pool:
        return _analyze(y, sr, duration, pool.submit(constant_q, y, sr))


def _analyze(y: np.ndarray, sr: int, duration: float, cqt: Future[np.ndarray]) -> dict[str, Any]:
    sp = Spectra(y, sr, cqt=cqt)
    env_median, env_mean = sp.env_median, sp.env_mean
    peak = float(env_mean.max())
    shifted = np.concatenate([np.zeros(int(round(ONSET_LATENCY_S * sp.fps))), env_mean])  # latency, as the beats
    curve = _pool_curve(shifted / peak if peak > 0 else shifted, sp.fps, ONSET_CURVE_HOP_S, duration)

    tempo0 = estimate_tempo(env_median if np.any(env_median > 0) else env_mean, sr)
    if tempo0 <= 0:
        out = _empty(duration)
        out["onset_curve"]["values"] = curve
        return out
    activation = _activation(sp, LOW_BAND_WEIGHT)
    beat_frames, tempo1 = _track_pulse(sp, activation, tempo0)
    if beat_confidence(_scaled(sp.env_low), beat_frames) < beat_confidence(_scaled(env_mean), beat_frames):
        # The low band does not pulse with these beats (no kick: classical, solo piano, some jazz):
        # its flux is bass notes and rumble, so the beats are tracked on the broadband flux alone.
        activation = _activation(sp, 0.0)
        beat_frames, tempo1 = _track_pulse(sp, activation, tempo0)
    tempo0 = tempo1
    beat_frames = _drop_silent_edges(y, beat_frames)
    if beat_frames.size < 2:
        out = _empty(duration)
        out["tempo"] = round(tempo0, 2)
        out["onset_curve"]["values"] = curve
        return out

    beat_times = beat_frames * HOP / float(sr) + ONSET_LATENCY_S
    tempo = refine_tempo(beat_times) or tempo0
    confidence = beat_confidence(activation, beat_frames)
    sub = subdivision(env_mean, beat_frames)
    candidates = METER_CANDIDATES if sub == 3 else tuple(m for m in METER_CANDIDATES if m != 2)
    meter, positions = decide_meter(downbeat_logodds(downbeat_features(sp, beat_frames)), candidates)
    sig = time_signature(meter, sub)
    beats = [round(float(t), 3) for t in beat_times]
    downbeats = [b for b, p in zip(beats, positions, strict=True) if p == 1]
    return {
        "tempo": round(tempo, 2),
        "beats": beats,
        "downbeats": downbeats,
        "beat_positions": positions,
        "meter": meter,
        "time_signature": sig,
        "confidence": confidence,
        "onset_curve": {"hop_s": ONSET_CURVE_HOP_S, "values": curve},
    }
