"""Energy curve and sections (intro / verse / pre-chorus / chorus / bridge / outro).

How it works
------------
* ``energy_curve``: RMS in 0.1 s hops, normalised to the track's maximum.
* **Bar grid** (:func:`bar_grid`). Bars are the spans between downbeats when
  the downbeats agree with the beats (median bar = ``meter`` beats, +-15 %;
  without a ``meter``, any whole number of beats from 2 to 7, so a 3/4
  track keeps its bars); otherwise every ``meter``-th (4th) beat starts a
  bar; with too few beats, fixed 4 s blocks (a beatless ambient track). Gaps
  over 1.6 bars (missed downbeats) are filled with evenly spaced bar lines,
  doubled downbeats (under 0.4 bar apart) are dropped, and the grid is
  extended at both ends with the median bar; added lines snap to the
  nearest beat. Every boundary below is a bar line: a downbeat (or, where
  one was missing, a beat) when the downbeats were usable.
* **Features per bar** (:func:`bar_features`), from one STFT. ``X``: the
  bar's mean chroma (harmony), MFCC 1..12 (timbre) and log RMS (loudness),
  centred across bars and scaled by the pooled *within-bar* standard
  deviation, so a difference reads as "how many frame-to-frame fluctuations
  apart" (a steady loop stays near 0, a change of section stands out).
  ``C``: the raw bar-mean chroma (the bar's chord).
* **Boundaries** (:func:`novelty_boundaries`): peaks of a bar-level novelty
  curve, a checkerboard contrast of the mean ``X`` over the 4 bars before and
  after each bar line, that reach ``NOVELTY_MIN`` and 30 % of the largest
  peak, strongest first while every section keeps ``MIN_SECTION_BARS``.
* **Repetition** (:func:`repetition_matrix`): a bar-level recurrence matrix of
  ``C``: cosine similarity turned into per-bar ranks, mutual, sharpened
  (``RANK_POWER``) — a soft version of librosa's k-nearest-neighbour
  affinity recurrence — then smoothed along the diagonals over ``PATH_BARS``
  bars (path enhancement), so a bar counts as repeated where a *run* of bars
  recurs with the same chords, not where one chord happens to come back.
  (Bar-mean chroma, not beat-level chroma stacked per bar: a lead line that
  differs between two verses, like other words sung to another tune, broke
  the stacked version's matches on generated songs; the bar mean keeps the
  chord.)
* **Groups** (:func:`group_sections`): two sections are compared on
  *harmony* — the mean, over the bars of each, of the best recurrence value
  found in the other (symmetrised), ``rep`` — and *timbre/loudness* — the
  distance ``dt`` between their mean MFCC + log-RMS, in within-bar standard
  deviations. Each is scaled so that 1 is its own threshold,
  ``(1 - rep) / (1 - REPEAT_MIN)`` and ``dt / TIMBRE_MAX``, and the section
  distance is their mean: sections are repeats when it is at most 1, so
  strong agreement on one can make up for weak evidence on the other
  (distorted guitars blur chroma; a verse sung louder shifts the timbre a
  little), while a part that only sounds like another (same instruments,
  other chords) stays apart. (Requiring both, tried first, missed the
  repeated choruses of metal and disco songs pieced together from GTZAN clips.) Sections are clustered
  (average linkage) at distance 1. Neighbouring sections of one group are
  joined (a phrase played twice in a row is one section). ``repeats`` is the
  size of a section's group.
* **Labels** (:func:`label_sections`), in this order; a section no rule
  claims is a neutral ``section``:

  1. ``chorus``: the group of the *most repeated* (>= 2 members) among the
     high-energy groups (mean energy >= ``CHORUS_MIN_ENERGY`` x the loudest
     section's); ties go to the louder group. A track with no repeated
     high-energy group has no chorus.
  2. ``verse``: only when there is a chorus: the repeated non-chorus group
     with the most members (ties: the earliest).
  3. ``pre-chorus``: another repeated group each of whose members comes
     directly before a chorus.
  4. ``intro``: the first section, when it is heard only once, is not a
     chorus and is clearly quieter (energy < ``EDGE_ENERGY_RATIO`` x the median
     of the other sections).
  5. ``outro``: the same for the last section (at least 3 sections).
  6. ``bridge``: a section heard once that comes after a verse *and* a
     chorus, with a chorus still to come (so A-B-A-B has no bridge).

* **Peak**: the loudest chorus; when a non-chorus section is clearly louder
  (> 1.25x) it wins; with no chorus, the loudest section. Exactly one
  section is ``is_peak`` (the suggestion engine starts hooks on it).
* Short or silent audio (fewer than ``2 * MIN_SECTION_BARS`` bars, or no
  signal) is one section, labelled ``section``, the peak.
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
FALLBACK_BAR_S = 4.0
DOWNBEAT_TOLERANCE = 0.15  # downbeats are used when the median bar is meter beats +-15 %
PATH_BARS = 5  # diagonal path enhancement length, in bars (odd)
RANK_POWER = 4  # sharpens the rank-based recurrence towards each bar's nearest neighbours
REPEAT_MIN = 0.43  # harmony: the mean best recurrence that alone sits at the repeat threshold
TIMBRE_MAX = 0.6  # timbre: the mean-timbre distance (within-bar std) that alone sits at it
CHORUS_MIN_ENERGY = 0.75  # of the loudest section's energy
EDGE_ENERGY_RATIO = 0.6  # intro / outro: this much quieter than the median section
PEAK_OVERRIDE = 1.25
LABELS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "outro", "section")
PARAMS = {
    "hop": HOP,
    "energy_hop_s": ENERGY_HOP_S,
    "novelty_bars": NOVELTY_BARS,
    "min_section_bars": MIN_SECTION_BARS,
    "novelty_min": NOVELTY_MIN,
    "max_sections": MAX_SECTIONS,
    "path_bars": PATH_BARS,
    "rank_power": RANK_POWER,
    "repeat_min": REPEAT_MIN,
    "timbre_max": TIMBRE_MAX,
    "chorus_min_energy": CHORUS_MIN_ENERGY,
    "edge_energy_ratio": EDGE_ENERGY_RATIO,
    "peak_override": PEAK_OVERRIDE,
    "downbeat_tolerance": DOWNBEAT_TOLERANCE,
    "fallback_bar_s": FALLBACK_BAR_S,
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


# --- bar grid ------------------------------------------------------------------


def _regular_lines(lines: np.ndarray, duration: float, beats: np.ndarray) -> np.ndarray:
    """Bar lines with missed ones filled in, doubles dropped and both ends
    extended; every added line is snapped to the nearest beat (within a
    quarter bar). Short bars that are not doubles (a 2-beat bar where the
    tracker switched bar phase, often at a change of section) are kept."""
    bar = float(np.median(np.diff(lines)))

    def snap(t: float) -> float:
        if beats.size:
            near = float(beats[np.argmin(np.abs(beats - t))])
            if abs(near - t) <= 0.25 * bar:
                return near
        return t

    kept = [float(lines[0])]
    for t in lines[1:]:
        gap = float(t) - kept[-1]
        if gap < 0.4 * bar:
            continue  # a doubled downbeat
        if gap > 1.6 * bar:  # missed downbeats: evenly spaced lines across the gap
            k = int(round(gap / bar))
            kept.extend(snap(kept[-1] + gap * i / k) for i in range(1, k))
        kept.append(float(t))
    while kept[0] - bar > 0.25 * bar:
        kept.insert(0, snap(kept[0] - bar))
    while kept[-1] + bar < duration - 0.25 * bar:
        kept.append(snap(kept[-1] + bar))
    return np.asarray(kept)


def bar_grid(
    duration: float, beats: list[float], downbeats: list[float], meter: int | None = None
) -> tuple[np.ndarray, str]:
    """Bar boundaries ``[0, ..., duration]`` and their source: ``downbeats``,
    ``beats`` or ``fixed`` (see the module docstring). Without ``meter``, the
    downbeats are used when they fall a whole number (2..7) of beats apart."""
    b = np.unique(np.asarray([t for t in beats if 0.0 <= t < duration], dtype=np.float64))
    db = np.unique(np.asarray([t for t in downbeats if 0.0 <= t < duration], dtype=np.float64))
    lines: np.ndarray = np.zeros(0)
    source = "fixed"
    if db.size >= 3:
        ok = True
        if b.size >= 8:
            ratio = float(np.median(np.diff(db))) / float(np.median(np.diff(b)))
            m = meter or min(max(int(round(ratio)), 2), 7)
            ok = abs(ratio - m) <= DOWNBEAT_TOLERANCE * m
        if ok:
            lines, source = db, "downbeats"
    step = meter or 4
    if source == "fixed" and b.size >= 2 * step:
        lines, source = b[::step], "beats"
    if source == "fixed" or lines.size < 2:
        bounds = np.append(np.arange(0.0, duration, FALLBACK_BAR_S), duration)
        source = "fixed"
    else:
        lines = _regular_lines(lines, duration, b)
        bounds = np.concatenate([[0.0], lines[(lines > 0.0) & (lines < duration)], [duration]])
    # Merge a sliver bar (< 25 % of a typical bar) at either end.
    if bounds.size > 2:
        typical = float(np.median(np.diff(bounds)))
        if bounds[-1] - bounds[-2] < 0.25 * typical:
            bounds = np.delete(bounds, -2)
        if bounds.size > 2 and bounds[1] - bounds[0] < 0.25 * typical:
            bounds = np.delete(bounds, 1)
    return bounds, source


# --- features ------------------------------------------------------------------


def bar_features(y: np.ndarray, sr: int, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(X, C)`` per bar: ``X`` (n_bars, 25) scaled bar means of chroma +
    MFCC 1..12 + log RMS (see the module docstring); ``C`` (n_bars, 12) the
    raw bar-mean chroma."""
    import librosa

    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    power = S**2
    # tuning=0: skips a pitch-tracking pass (half the step's time); a detuned
    # recording shifts every bar's chroma alike, which self-similarity ignores.
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0)
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)[1:]
    rms = librosa.feature.rms(S=S)[0]
    F = np.vstack([chroma, mfcc, np.log(rms + 1e-6)[None, :]]).astype(np.float64)
    # Bar means and within-bar variances from running sums (each bar >= 1 frame).
    edges = np.clip(librosa.time_to_frames(bounds, sr=sr, hop_length=HOP), 0, F.shape[1] - 1)
    lo = edges[:-1]
    hi = np.maximum(edges[1:], lo + 1)
    cs = np.concatenate([np.zeros((F.shape[0], 1)), np.cumsum(F, axis=1)], axis=1)
    cs2 = np.concatenate([np.zeros((F.shape[0], 1)), np.cumsum(F**2, axis=1)], axis=1)
    cnt = (hi - lo).astype(np.float64)
    means = ((cs[:, hi] - cs[:, lo]) / cnt).T
    variances = np.maximum(((cs2[:, hi] - cs2[:, lo]) / cnt).T - means**2, 0.0)
    within = np.sqrt(variances.mean(axis=0))
    X = (means - means.mean(axis=0)) / np.maximum(within, 1e-3)
    return X, means[:, :12].copy()


def repetition_matrix(C: np.ndarray, width: int = 2) -> np.ndarray:
    """(n_bars, n_bars) path-enhanced harmonic recurrence in [0, 1].

    A soft, rank-based form of ``librosa.segment.recurrence_matrix(mode=
    "affinity", sym=True, metric="cosine")`` followed by a one-filter
    ``librosa.segment.path_enhance``, in numpy (librosa's version imports
    scikit-learn, about 1 s per process, for a matrix of a hundred bars):

    * each bar's cosine similarity to every other bar at least ``width`` bars
      away becomes its rank in that bar's row (0 = least, 1 = most similar),
      so the measure adapts to how alike all bars of the track are (a song in
      one key has high raw similarities everywhere);
    * links are mutual (the smaller of the two ranks) and raised to the power
      ``RANK_POWER``, so only bars near the top of each other's list count
      (a soft k-nearest-neighbour graph that repeats *within* a section, e.g.
      a 4-bar chord loop, cannot use up);
    * a Hann window of ``PATH_BARS`` bars smooths along the diagonals, so a
      *run* of recurring bars stands out and one chord coming back does not.
    """
    n = C.shape[0]
    if n < 4:
        return np.zeros((n, n))
    unit = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-9)
    sim = unit @ unit.T
    idx = np.arange(n)
    far = np.abs(idx[:, None] - idx[None, :]) >= width
    n_far = far.sum(axis=1, keepdims=True)
    masked = np.where(far, sim, -np.inf)
    # Rank within the row: masked cells sort first, so subtract their count.
    ranks = np.argsort(np.argsort(masked, axis=1, kind="stable"), axis=1, kind="stable")
    P = np.clip((ranks - (n - n_far) + 1) / np.maximum(n_far, 1), 0.0, 1.0)
    P = np.where(far, np.minimum(P, P.T), 0.0) ** RANK_POWER
    win = np.hanning((PATH_BARS | 1) + 2)[1:-1]  # odd length: centred on the cell
    win = win / win.sum()
    half = len(win) // 2
    Pp = np.pad(P, half)
    out = np.zeros_like(P)
    for o, w in enumerate(win):
        out += w * Pp[o : o + n, o : o + n]
    return out


# --- boundaries ----------------------------------------------------------------


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


# --- groups and labels -----------------------------------------------------------


def section_distances(seg_bars: list[tuple[int, int]], X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Pairwise distance between sections; ``<= 1`` when they are repeats
    (the mean of the scaled harmony and timbre distances, see the module docstring)."""
    n = len(seg_bars)
    timbre = np.asarray([X[a:b, 12:].mean(axis=0) for a, b in seg_bars])
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            (a1, b1), (a2, b2) = seg_bars[i], seg_bars[j]
            block = R[a1:b1, a2:b2]
            rep = 0.5 * (float(block.max(axis=1).mean()) + float(block.max(axis=0).mean()))
            dt = float(np.linalg.norm(timbre[i] - timbre[j])) / np.sqrt(timbre.shape[1])
            D[i, j] = D[j, i] = 0.5 * ((1.0 - rep) / (1.0 - REPEAT_MIN) + dt / TIMBRE_MAX)
    return D


def group_sections(D: np.ndarray) -> np.ndarray:
    """Group ids (0, 1, ... in order of first appearance) by average linkage at distance 1."""
    n = D.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    Z = linkage(squareform(D, checks=False), method="average")
    labels = fcluster(Z, t=1.0, criterion="distance")
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(g), len(order)) for g in labels], dtype=int)


def merge_adjacent_repeats(
    seg_bars: list[tuple[int, int]], groups: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Join neighbouring sections of one group (a phrase played twice in a
    row is one section), renumbering groups in order of first appearance."""
    merged: list[tuple[int, int]] = [seg_bars[0]]
    kept = [int(groups[0])]
    for (a, b), g in zip(seg_bars[1:], groups[1:].tolist(), strict=True):
        if g == kept[-1]:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
            kept.append(int(g))
    order: dict[int, int] = {}
    return merged, np.array([order.setdefault(g, len(order)) for g in kept], dtype=int)


def label_sections(energies: np.ndarray, groups: np.ndarray) -> tuple[list[str], int]:
    """Labels per section and the index of the peak (rules in the module docstring)."""
    n = energies.size
    counts = np.bincount(groups)
    repeats = counts[groups]
    group_energy = {int(g): float(energies[groups == g].mean()) for g in set(groups.tolist())}
    top = float(energies.max())
    labels = ["section"] * n

    # 1. chorus: the most repeated high-energy group.
    candidates = [g for g, e in group_energy.items() if counts[g] >= 2 and e >= CHORUS_MIN_ENERGY * top and top > 0]
    chorus = max(candidates, key=lambda g: (counts[g], group_energy[g])) if candidates else None
    # 2. verse: the most repeated other group; 3. pre-chorus: a repeated group leading into choruses.
    verse = None
    if chorus is not None:
        for i in range(n):
            if groups[i] == chorus:
                labels[i] = "chorus"
        others = [g for g in group_energy if g != chorus and counts[g] >= 2]
        if others:
            verse = max(others, key=lambda g: (counts[g], -int(np.flatnonzero(groups == g)[0])))
            for i in range(n):
                if groups[i] == verse:
                    labels[i] = "verse"
        for g in others:
            members = np.flatnonzero(groups == g)
            if g != verse and all(i + 1 < n and groups[i + 1] == chorus for i in members):
                for i in members:
                    labels[i] = "pre-chorus"

    # 4./5. intro / outro: a one-off, clearly quieter first / last section.
    def quiet_one_off(i: int) -> bool:
        rest = np.delete(energies, i)
        return bool(repeats[i] == 1 and labels[i] == "section" and energies[i] < EDGE_ENERGY_RATIO * np.median(rest))

    if n >= 2 and quiet_one_off(0):
        labels[0] = "intro"
    if n >= 3 and quiet_one_off(n - 1):
        labels[-1] = "outro"
    # 6. bridge: a one-off after a verse and a chorus, with a chorus still to come.
    for i in range(n):
        if labels[i] == "section" and repeats[i] == 1:
            before, after = labels[:i], labels[i + 1 :]
            if "verse" in before and "chorus" in before and "chorus" in after:
                labels[i] = "bridge"

    # Peak: the loudest chorus unless another section is clearly louder.
    loudest = int(np.argmax(energies))
    peak = loudest
    if chorus is not None:
        members = np.flatnonzero(groups == chorus)
        cand = int(members[np.argmax(energies[members])])
        if energies[loudest] <= PEAK_OVERRIDE * energies[cand]:
            peak = cand
    return labels, peak


def analyze_structure(
    y: np.ndarray,
    sr: int,
    beats: list[float],
    downbeats: list[float],
    *,
    beat_positions: list[int] | None = None,
    meter: int | None = None,
) -> dict[str, Any]:
    """Energy curve and labelled sections with exactly one ``is_peak``.

    Returns ``{"energy_curve": {"hop_s": 0.1, "values": [0..1]},
    "sections": [{"start", "end", "label", "energy", "is_peak", "group",
    "repeats"}]}``. ``beats`` / ``downbeats`` give the bar grid (see
    :func:`bar_grid`); without downbeats, ``beat_positions`` (1 = downbeat)
    can supply them. ``meter`` is beats per bar (by default whatever whole
    number of beats the downbeats span, 4 when they are unusable).
    """
    y = np.asarray(y, dtype=np.float32)
    duration = y.size / float(sr)
    meter = int(meter) if meter and meter > 1 else None
    rms = energy_curve(y, sr)
    top = float(rms.max()) if rms.size else 0.0
    curve = rms / top if top > 0 else rms
    out: dict[str, Any] = {
        "energy_curve": {"hop_s": ENERGY_HOP_S, "values": [round(float(v), 3) for v in curve]},
        "sections": [],
    }
    if duration <= 0:
        return out
    beats = [float(t) for t in beats]
    downbeats = [float(t) for t in downbeats]
    if not downbeats and beat_positions and len(beat_positions) == len(beats):
        downbeats = [t for t, p in zip(beats, beat_positions, strict=True) if p == 1]

    bounds, _source = bar_grid(duration, beats, downbeats, meter)
    n_bars = bounds.size - 1
    if n_bars >= 2 * MIN_SECTION_BARS and top > 0:
        X, C = bar_features(y, sr, bounds)
        cuts = novelty_boundaries(X)
        edges = [0] + cuts + [n_bars]
        seg_bars = list(zip(edges[:-1], edges[1:], strict=False))
        groups = group_sections(section_distances(seg_bars, X, repetition_matrix(C)))
        seg_bars, groups = merge_adjacent_repeats(seg_bars, groups)
    else:
        seg_bars = [(0, n_bars)]
        groups = np.zeros(1, dtype=int)

    times = [(float(bounds[a]), float(bounds[b])) for a, b in seg_bars]
    energies = []
    for s, e in times:
        a = int(s / ENERGY_HOP_S)
        seg = curve[a : max(a + 1, int(np.ceil(e / ENERGY_HOP_S)))]
        energies.append(float(seg.mean()) if seg.size else 0.0)
    en = np.asarray(energies)
    labels, peak = label_sections(en, groups)
    counts = np.bincount(groups)
    out["sections"] = [
        {
            "start": round(s, 3),
            "end": round(e, 3),
            "label": labels[i],
            "energy": round(float(en[i]), 3),
            "is_peak": i == peak,
            "group": int(groups[i]),
            "repeats": int(counts[groups[i]]),
        }
        for i, (s, e) in enumerate(times)
    ]
    return out
