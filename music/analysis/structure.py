"""Energy curve and sections (intro / verse / chorus / bridge / outro).

How it works
------------
* ``energy_curve``: RMS in 0.1 s hops, normalised to the track's maximum.
* Bars are the spans between downbeats (fixed 4 s blocks when there are no
  downbeats, e.g. a beatless ambient track).
* Each bar gets a feature vector: mean chroma (harmony), mean MFCC 1..12
  (timbre) and log RMS (loudness), scaled by the within-bar fluctuation.
* Boundaries are peaks of a bar-level novelty curve (distance between the
  mean features of the 4 bars before and the 4 bars after each bar line),
  sections at least 4 bars long, so every boundary is a bar boundary.
  (librosa's fixed-k agglomerative segmentation was tried first: a k chosen
  from the track length merged real sections of short tracks.)
* Segments are grouped by similarity of their mean features (average-linkage
  cosine distance); members of one group are "repeats".
* The peak is the loudest member of the loudest repeated group, unless a
  non-repeated section is clearly louder (> 1.25x), in which case it wins.
  Exactly one section is ``is_peak``.
* Labels: the peak's group is ``chorus``; a quieter first / last section is
  ``intro`` / ``outro``; a one-off section after the first chorus is
  ``bridge``; the rest is ``verse``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOP = 512
ENERGY_HOP_S = 0.1
NOVELTY_BARS = 4
MIN_SECTION_BARS = 4
NOVELTY_MIN = 0.3  # RMS distance in within-bar standard deviations
MAX_SECTIONS = 12
GROUP_DISTANCE = 0.5  # cosine distance under which two sections count as repeats
FALLBACK_BAR_S = 4.0
PARAMS = {
    "hop": HOP,
    "energy_hop_s": ENERGY_HOP_S,
    "novelty_bars": NOVELTY_BARS,
    "min_section_bars": MIN_SECTION_BARS,
    "novelty_min": NOVELTY_MIN,
    "max_sections": MAX_SECTIONS,
    "group_distance": GROUP_DISTANCE,
}


def energy_curve(y: np.ndarray, sr: int, hop_s: float = ENERGY_HOP_S) -> np.ndarray:
    """RMS per ``hop_s`` window (not normalised), one value per hop."""
    hop = int(round(hop_s * sr))
    n = int(np.ceil(y.size / hop)) if y.size else 0
    if n == 0:
        return np.zeros(0)
    pad = np.zeros(n * hop, dtype=np.float64)
    pad[: y.size] = y
    return np.sqrt((pad.reshape(n, hop) ** 2).mean(axis=1))


def _bar_bounds(duration: float, downbeats: list[float]) -> np.ndarray:
    db = [t for t in downbeats if 0.0 < t < duration]
    bounds = [0.0] + db + [duration] if len(db) >= 2 else list(np.arange(0.0, duration, FALLBACK_BAR_S)) + [duration]
    # Drop a sliver bar at the end (< 25 % of a typical bar) by merging it.
    b = np.asarray(bounds, dtype=np.float64)
    if b.size > 2:
        typical = float(np.median(np.diff(b)))
        if b[-1] - b[-2] < 0.25 * typical:
            b = np.delete(b, -2)
        if b[1] - b[0] < 0.25 * typical:
            b = np.delete(b, 1)
    return b


def _bar_features(y: np.ndarray, sr: int, bounds: np.ndarray) -> np.ndarray:
    """(n_bars, 25) bar means of chroma + MFCC 1..12 + log RMS.

    Centred across bars and scaled by the pooled *within-bar* standard
    deviation of each feature, so a difference between bars reads as "how
    many frame-to-frame fluctuations apart" they are: a steady loop stays
    near 0 everywhere, a real change of section stands out (unlike per-track
    z-scoring, which would blow a loop's noise up to unit variance).
    """
    import librosa

    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    power = S**2
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)[1:]
    rms = librosa.feature.rms(S=S)[0]
    F = np.vstack([chroma, mfcc, np.log(rms + 1e-6)[None, :]])
    frames = np.clip(librosa.time_to_frames(bounds, sr=sr, hop_length=HOP), 0, S.shape[1])
    means, variances = [], []
    for a, b in zip(frames[:-1], frames[1:], strict=False):
        b = max(b, a + 1)
        means.append(F[:, a:b].mean(axis=1))
        variances.append(F[:, a:b].var(axis=1))
    X = np.asarray(means)
    within = np.sqrt(np.mean(variances, axis=0))
    return (X - X.mean(axis=0)) / np.maximum(within, 1e-3)


def novelty_curve(X: np.ndarray, half: int = 0) -> np.ndarray:
    """Per-bar novelty: RMS (per feature) distance between the mean of the
    ``half`` bars before and after each bar line (windows shrink symmetrically
    at the edges, so the first and last bars are not over-weighted)."""
    half = half or NOVELTY_BARS
    n, d = X.shape
    nov = np.zeros(n)
    for b in range(1, n):
        k = min(half, b, n - b)
        nov[b] = float(np.linalg.norm(X[b - k : b].mean(axis=0) - X[b : b + k].mean(axis=0))) / np.sqrt(d)
    return nov


def novelty_boundaries(X: np.ndarray) -> list[int]:
    """Bar indices where a new section starts (excluding 0).

    Boundaries are local maxima (+-2 bars) of :func:`novelty_curve` that
    reach ``NOVELTY_MIN`` (in within-bar standard deviations) and 30 % of the
    largest peak, taken strongest first while every section keeps at least
    ``MIN_SECTION_BARS`` bars. A steady loop has no boundary at all.
    """
    n = X.shape[0]
    nov = novelty_curve(X)
    if n < 2 or float(nov.max()) < NOVELTY_MIN:
        return []
    # Bars closer than MIN_SECTION_BARS to either end cannot start a section;
    # leaving them out of the peak search keeps an edge bump from masking a
    # real boundary next to it.
    lo, hi = MIN_SECTION_BARS, n - MIN_SECTION_BARS
    if hi < lo:
        return []
    nov[:lo] = 0.0
    nov[hi + 1 :] = 0.0
    if float(nov.max()) < NOVELTY_MIN:
        return []
    floor = max(NOVELTY_MIN, 0.3 * float(nov.max()))
    peaks = [
        b for b in range(lo, hi + 1) if nov[b] >= floor and nov[b] == nov[max(lo, b - 2) : min(hi, b + 2) + 1].max()
    ]
    chosen: list[int] = []
    for b in sorted(peaks, key=lambda i: (-nov[i], i)):
        edges = chosen + [0, n]
        if all(abs(b - e) >= MIN_SECTION_BARS for e in edges) and len(chosen) < MAX_SECTIONS - 1:
            chosen.append(b)
    return sorted(chosen)


def _group_sections(vecs: np.ndarray) -> np.ndarray:
    """Group ids per section by average-linkage cosine distance."""
    n = vecs.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    # Cosine distance is undefined for all-zero vectors; nudge them.
    v = vecs + 1e-9
    Z = linkage(pdist(v, metric="cosine"), method="average")
    labels = fcluster(Z, t=GROUP_DISTANCE, criterion="distance")
    # Renumber groups in order of first appearance: 0, 1, 2, ...
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(g), len(order)) for g in labels], dtype=int)


def _label_sections(energies: np.ndarray, groups: np.ndarray) -> tuple[list[str], int]:
    n = energies.size
    counts = np.bincount(groups)
    repeated = counts[groups] >= 2
    loudest = int(np.argmax(energies))
    peak = loudest
    if repeated.any():
        group_energy = {g: float(energies[groups == g].mean()) for g in set(groups[repeated].tolist())}
        best_group = max(group_energy, key=lambda g: group_energy[g])
        members = np.flatnonzero(groups == best_group)
        cand = int(members[np.argmax(energies[members])])
        if energies[loudest] <= 1.25 * energies[cand]:
            peak = cand
    chorus_group = int(groups[peak])
    labels = ["verse"] * n
    for i in range(n):
        if groups[i] == chorus_group and (repeated[peak] or i == peak):
            labels[i] = "chorus"
    first_chorus = min(i for i in range(n) if labels[i] == "chorus")
    if n >= 2 and labels[0] != "chorus" and energies[0] < energies[peak]:
        labels[0] = "intro"
    if n >= 3 and labels[-1] != "chorus" and energies[-1] < energies[peak]:
        labels[-1] = "outro"
    for i in range(n):
        if labels[i] == "verse" and not repeated[i] and i > first_chorus:
            labels[i] = "bridge"
    return labels, peak


def analyze_structure(y: np.ndarray, sr: int, beats: list[float], downbeats: list[float]) -> dict[str, Any]:
    """Energy curve and labelled sections with exactly one ``is_peak``.

    Returns ``{"energy_curve": {"hop_s": 0.1, "values": [0..1]},
    "sections": [{"start", "end", "label", "energy", "is_peak", "group"}]}``.
    ``beats`` is accepted for API symmetry (bars come from ``downbeats``).
    """
    y = np.asarray(y, dtype=np.float32)
    duration = y.size / float(sr)
    rms = energy_curve(y, sr)
    top = float(rms.max()) if rms.size else 0.0
    curve = rms / top if top > 0 else rms
    out: dict[str, Any] = {
        "energy_curve": {"hop_s": ENERGY_HOP_S, "values": [round(float(v), 3) for v in curve]},
        "sections": [],
    }
    if duration <= 0:
        return out

    bounds = _bar_bounds(duration, list(downbeats))
    n_bars = bounds.size - 1
    if n_bars >= 2 * MIN_SECTION_BARS and top > 0:
        X = _bar_features(y, sr, bounds)
        cuts = novelty_boundaries(X)
        edges = [0] + cuts + [n_bars]
        seg_bars = list(zip(edges[:-1], edges[1:], strict=False))
        vecs = np.asarray([X[a:b].mean(axis=0) for a, b in seg_bars])
    else:
        seg_bars = [(0, n_bars)]
        vecs = np.zeros((1, 1))

    times = [(float(bounds[a]), float(bounds[b])) for a, b in seg_bars]
    energies = []
    for s, e in times:
        a, b = int(s / ENERGY_HOP_S), max(int(s / ENERGY_HOP_S) + 1, int(np.ceil(e / ENERGY_HOP_S)))
        seg = curve[a:b]
        energies.append(float(seg.mean()) if seg.size else 0.0)
    en = np.asarray(energies)
    groups = _group_sections(vecs)
    labels, peak = _label_sections(en, groups)
    out["sections"] = [
        {
            "start": round(s, 3),
            "end": round(e, 3),
            "label": labels[i],
            "energy": round(float(en[i]), 3),
            "is_peak": i == peak,
            "group": int(groups[i]),
        }
        for i, (s, e) in enumerate(times)
    ]
    return out
