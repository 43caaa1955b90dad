"""Cost flat in source length: the analysers' working memory does not grow with the duration, and the
steps that match events (cuts, impacts) or group frames per second stay linear.

Memory is measured with ``tracemalloc`` (numpy reports its buffers to it) as the peak *on top of* the
inputs, on synthetic inputs of two lengths. The linear-time rewrites are checked against brute-force
references (the former quadratic implementations) on random inputs, exactly, and by counting how many
items they look at.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from video.analysis import audio as audio_mod
from video.analysis import framestats as framestats_mod
from video.analysis import shots as shots_mod
from video.analysis.framestats import FrameStats, FrameStatsAccumulator, frame_stats_from_arrays
from video.analysis.impacts import combine_impacts
from video.analysis.motion import motion_per_frame, novelty_from_embeddings, novelty_from_histograms
from video.analysis.shots import _enforce_min_shot, detect_cuts

SR = 16000


def _peak_mb(fn: Callable[[], Any]) -> float:
    """Peak traced memory (MB) allocated while ``fn`` runs, over what was allocated before."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return (tracemalloc.get_traced_memory()[1] - base) / 1e6
    finally:
        tracemalloc.stop()


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(int(seconds * SR)) * 0.05).astype(np.float32)
    # a few clicks so that there are onsets to find
    for t in np.arange(1.0, seconds - 1, 7.3):
        i = int(t * SR)
        audio[i : i + 400] += (rng.uniform(-0.7, 0.7, 400) * np.exp(-np.arange(400) / 80)).astype(np.float32)
    return audio


def _synthetic_stats(minutes: float, fps: float = 30.0, seed: int = 0) -> FrameStats:
    """Frame statistics of ``minutes`` of video with 160x90 thumbnails (660 bytes), without decoding."""
    n = int(minutes * 60 * fps)
    rng = np.random.default_rng(seed)
    looks = rng.integers(0, 256, size=(8, 660)).astype(np.float32)
    seg = rng.integers(0, 8, size=n // 90 + 2).repeat(90)[:n]
    thumb = np.clip(looks[seg] + rng.normal(0, 3, (n, 660)), 0, 255).astype(np.uint8)
    hist = rng.random((n, framestats_mod.HIST_BINS)).astype(np.float32)
    hist /= hist.sum(axis=1, keepdims=True) / 3
    diff = (rng.random(n) * 3).astype(np.float32)
    return FrameStats(fps, diff, diff * 0.5, diff * 0.5, thumb.mean(axis=1).astype(np.float32), hist, thumb)


# --------------------------------------------------------------------------- onsets


def _onset_envelope_reference(audio: np.ndarray) -> np.ndarray:
    """All frames at once from a full (hops x n_fft) index matrix (the former implementation)."""
    n_fft, hop = audio_mod.N_FFT, audio_mod.HOP
    n = 1 + (audio.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    window = np.hanning(n_fft).astype(np.float32)
    flux = np.zeros(n, np.float32)
    prev = None
    for b0 in range(0, n, 4096):
        frames = audio[idx[b0 : b0 + 4096]] * window
        mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32))
        first = mag[:1] if prev is None else prev[None, :]
        flux[b0 : b0 + mag.shape[0]] = np.maximum(np.diff(mag, axis=0, prepend=first), 0.0).mean(axis=1)
        prev = mag[-1]
    return flux


@pytest.mark.parametrize("seconds", [0.05, 1.0, 41.0, 100.3])
def test_onset_envelope_equals_the_full_index_reference(seconds):
    audio = _noise(seconds, seed=3)
    flux, times = audio_mod.onset_envelope(audio, SR)
    assert np.array_equal(flux, _onset_envelope_reference(audio))
    assert np.array_equal(times, (np.arange(flux.size) * audio_mod.HOP + audio_mod.N_FFT / 2) / SR)


def test_onsets_do_not_depend_on_the_block_size(monkeypatch):
    audio = _noise(30.0, seed=4)
    expected = audio_mod.detect_onsets(audio, SR)
    assert len(expected) >= 3
    for block in (1, 7, 333, 10**6):
        monkeypatch.setattr(audio_mod, "ONSET_BLOCK", block)
        assert audio_mod.detect_onsets(audio, SR) == expected


def test_onset_detection_memory_is_flat_in_duration():
    short, long = _noise(120.0), _noise(600.0)
    audio_mod.detect_onsets(short[: 10 * SR], SR)  # imports and FFT plans out of the measurement
    p_short = _peak_mb(lambda: audio_mod.detect_onsets(short, SR))
    p_long = _peak_mb(lambda: audio_mod.detect_onsets(long, SR))
    # former: a (hops x 512) int64 index matrix, 24.6 MB per minute (~250 MB at 10 min)
    assert p_long < 1.5 * p_short, (p_short, p_long)
    assert p_long < 40, p_long


# --------------------------------------------------------------------------- shots


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    small = rng.uniform(30, 220, size=(h // 10 + 2, w // 10 + 2))
    big = np.kron(small, np.ones((10, 10)))[:h, :w]
    return big + rng.normal(0, 4, size=(h, w))


def _synthetic_frames(seed: int = 0, fps: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """~40 s of 90x160 yuv420p: moving textures joined by hard cuts, dissolves, fades through black, flashes."""
    rng = np.random.default_rng(seed)
    h, w = 90, 160
    ys: list[np.ndarray] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []

    def shot() -> Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        y0, u0, v0 = _texture(rng, h, w + 60), _texture(rng, h // 2, w // 2 + 30), _texture(rng, h // 2, w // 2 + 30)
        speed = rng.integers(0, 3)

        def frame(t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            dx = (speed * t) % 60
            return y0[:, dx : dx + w], u0[:, dx // 2 : dx // 2 + w // 2], v0[:, dx // 2 : dx // 2 + w // 2]

        return frame

    def put(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        ys.append(np.clip(y, 0, 255).astype(np.uint8))
        us.append(np.clip(u, 0, 255).astype(np.uint8))
        vs.append(np.clip(v, 0, 255).astype(np.uint8))

    cur = shot()
    transitions = ["dissolve", "cut", "fade", "flash", "dissolve", "cut", "fade", "dissolve", "cut", "flash"]
    for kind in transitions:
        length = int(rng.integers(2 * fps, 4 * fps))
        for t in range(length):
            put(*cur(t))
        nxt = shot()
        if kind == "dissolve":
            d = fps
            for t in range(d):
                a = (t + 1) / (d + 1)
                put(*[(1 - a) * x + a * z for x, z in zip(cur(length + t), nxt(t), strict=True)])
        elif kind == "fade":
            d = fps // 2
            for t in range(d):
                a = 1 - (t + 1) / d
                y, u, v = cur(length + t)
                put(a * y + (1 - a) * 16, a * (u - 128) + 128, a * (v - 128) + 128)
            for t in range(d):
                a = (t + 1) / d
                y, u, v = nxt(t)
                put(a * y + (1 - a) * 16, a * (u - 128) + 128, a * (v - 128) + 128)
        elif kind == "flash":
            put(np.full((h, w), 250.0), np.full((h // 2, w // 2), 128.0), np.full((h // 2, w // 2), 128.0))
            nxt = cur
        cur = nxt
    for t in range(2 * fps):
        put(*cur(t))
    return np.stack(ys), np.stack(us), np.stack(vs)


@pytest.fixture(scope="module")
def synthetic_stats() -> FrameStats:
    y, u, v = _synthetic_frames()
    return frame_stats_from_arrays(y, u, v, 25.0)


def _gradual_features_reference(fs: FrameStats, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows at once (the former implementation)."""
    idx = np.arange(k, fs.n - k)
    a, b = idx - k, idx + k
    ta, tb, tm = (fs.thumb[i].astype(np.float32) for i in (a, b, idx))
    across = np.abs(ta - tb).mean(axis=1)
    blend = np.abs(tm - (ta + tb) / 2).mean(axis=1)
    hist = np.abs(fs.hist[a] - fs.hist[b]).sum(axis=-1) / 6.0
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(across > 0, blend / np.maximum(across, 1e-6), 1.0)
    return across, err, hist


def test_gradual_features_equal_the_all_at_once_reference(synthetic_stats):
    fs = synthetic_stats
    k = 12
    expected = _gradual_features_reference(fs, k)
    for chunk in (1, 5, 100, None, fs.n):
        got = shots_mod._gradual_features(fs, k, chunk)
        for g, e in zip(got, expected, strict=True):
            assert g.dtype == e.dtype
            assert np.array_equal(g, e)


def test_cuts_do_not_depend_on_the_chunk_sizes(synthetic_stats, monkeypatch):
    fs = synthetic_stats
    expected = detect_cuts(fs)
    kinds = {c["kind"] for c in expected}
    assert kinds == {"hard", "gradual"}, expected  # both detectors are exercised
    for gradual_chunk, pair_chunk in ((1, 1), (7, 13), (64, 100), (10**6, 10**6)):
        monkeypatch.setattr(shots_mod, "GRADUAL_CHUNK", gradual_chunk)
        monkeypatch.setattr(framestats_mod, "PAIR_CHUNK", pair_chunk)
        assert detect_cuts(fs) == expected


def test_frame_differences_do_not_depend_on_the_chunk_size(synthetic_stats, monkeypatch):
    fs = synthetic_stats
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, fs.n, 5000), rng.integers(0, fs.n, 5000)
    thumb = np.abs(fs.thumb[a].astype(np.int16) - fs.thumb[b].astype(np.int16)).mean(axis=-1)
    hist = np.abs(fs.hist[a] - fs.hist[b]).sum(axis=-1) / 6.0
    for chunk in (1, 3, 2048, 10**6):
        monkeypatch.setattr(framestats_mod, "PAIR_CHUNK", chunk)
        assert np.array_equal(fs.thumb_diff(a, b), thumb)
        assert np.array_equal(fs.hist_diff(a, b), hist)
    assert fs.thumb_diff(3, 7) == np.abs(fs.thumb[3].astype(np.int16) - fs.thumb[7].astype(np.int16)).mean()


def test_cut_detection_memory_is_flat_in_duration():
    short, long = _synthetic_stats(2.0), _synthetic_stats(10.0)
    detect_cuts(_synthetic_stats(0.1))
    p_short = _peak_mb(lambda: detect_cuts(short))
    p_long = _peak_mb(lambda: detect_cuts(long))
    # former: float32 copies of every thumbnail, ~13 kB per frame (~240 MB for 10 min at 30 fps)
    assert p_long < 1.5 * p_short, (p_short, p_long)
    assert p_long < 40, p_long


def _enforce_min_shot_reference(cuts: list[dict[str, Any]], min_frames: int, n: int) -> list[dict[str, Any]]:
    """Every candidate against every kept cut (the former implementation)."""
    order = sorted(cuts, key=lambda c: (c["kind"] != "hard", -c["_strength"]))
    kept: list[dict[str, Any]] = []
    for c in order:
        f = c["frame"]
        if f < 1 or f > n - 1:
            continue
        if f < min_frames or f > n - min_frames:
            continue
        if all(abs(f - k["frame"]) >= min_frames for k in kept):
            if c["kind"] == "gradual" and any(c["span"][0] <= k["frame"] <= c["span"][1] + 1 for k in kept):
                continue
            kept.append(c)
    return sorted(kept, key=lambda c: c["frame"])


def _random_cuts(rng: np.random.Generator, n: int, count: int) -> list[dict[str, Any]]:
    cuts = []
    for _ in range(count):
        f = int(rng.integers(-3, n + 3))
        s0 = f - int(rng.integers(-2, 15))
        cuts.append(
            {
                "frame": f,
                "kind": "hard" if rng.random() < 0.5 else "gradual",
                "score": 0.5,
                "span": [s0, s0 + int(rng.integers(-3, 30))],
                "_strength": float(rng.integers(0, 5)),  # many ties
            }
        )
    return cuts


def test_enforce_min_shot_equals_the_pairwise_reference():
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(0, 400))
        cuts = _random_cuts(rng, n, int(rng.integers(0, 60)))
        min_frames = int(rng.integers(1, 20))
        assert _enforce_min_shot(cuts, min_frames, n) == _enforce_min_shot_reference(cuts, min_frames, n)


class _CountingDict(dict):
    reads = 0

    def __getitem__(self, key: Any) -> Any:
        type(self).reads += 1
        return super().__getitem__(key)


def test_enforce_min_shot_reads_each_cut_a_bounded_number_of_times():
    rng = np.random.default_rng(12)
    n = 200_000
    cuts = [_CountingDict(c) for c in _random_cuts(rng, n, 4000)]
    _CountingDict.reads = 0
    kept = _enforce_min_shot(cuts, 8, n)
    assert len(kept) > 2000
    # former: every candidate against every kept cut, ~5 million reads here
    assert _CountingDict.reads < 10 * len(cuts)


# --------------------------------------------------------------------------- accumulator


def test_accumulator_does_not_keep_a_second_copy_after_result():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 256, (100, 90, 160), dtype=np.uint8)
    u = rng.integers(0, 256, (100, 45, 80), dtype=np.uint8)
    gc.collect()
    tracemalloc.start()
    try:
        acc = FrameStatsAccumulator(25.0)
        for _ in range(30):
            acc(y, u, u)
        fs = acc.result()
        held = tracemalloc.get_traced_memory()[0]
        del acc
        gc.collect()
        released = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    stats_bytes = sum(a.nbytes for a in (fs.diff_y, fs.diff_u, fs.diff_v, fs.luma, fs.hist, fs.thumb))
    assert fs.n == 3000
    # former: the accumulator's chunk lists, as big as the statistics themselves
    assert released < 0.05 * stats_bytes, (released, stats_bytes)


def test_accumulator_result_twice_and_more_chunks_after_it():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 256, (60, 18, 32), dtype=np.uint8)
    u = rng.integers(0, 256, (60, 9, 16), dtype=np.uint8)
    v = rng.integers(0, 256, (60, 9, 16), dtype=np.uint8)
    acc = FrameStatsAccumulator(25.0)
    acc(y[:20], u[:20], v[:20])
    acc(y[20:35], u[20:35], v[20:35])
    first = acc.result()
    again = acc.result()
    acc(y[35:], u[35:], v[35:])
    full = acc.result()
    ref = frame_stats_from_arrays(y, u, v, 25.0, chunk=7)
    for name in ("diff_y", "diff_u", "diff_v", "luma", "hist", "thumb"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
        assert np.array_equal(getattr(full, name), getattr(ref, name))
        assert np.array_equal(getattr(first, name), getattr(ref, name)[:35])


# --------------------------------------------------------------------------- motion, novelty


def _motion_reference(fs: FrameStats, exclude_frames: list[int] | None) -> np.ndarray:
    m = fs.diff_y.astype(np.float32).copy()
    if m.size:
        m[0] = m[1] if m.size > 1 else 0.0
    for f in exclude_frames or []:
        if 0 <= f < m.size:
            lo, hi = max(0, f - 3), min(m.size, f + 4)
            neigh = [m[j] for j in range(lo, hi) if j != f and j not in (exclude_frames or [])]
            m[f] = float(np.median(neigh)) if neigh else 0.0
    return m


def test_motion_per_frame_equals_the_reference():
    rng = np.random.default_rng(8)
    for _ in range(50):
        fs = _synthetic_stats(float(rng.integers(1, 40)) / 60, fps=25.0, seed=int(rng.integers(1000)))
        exclude = rng.integers(-5, fs.n + 5, int(rng.integers(0, 40))).tolist()
        exclude += exclude[:3]  # duplicates
        assert np.array_equal(motion_per_frame(fs, exclude), _motion_reference(fs, exclude))
    assert np.array_equal(motion_per_frame(fs, None), _motion_reference(fs, None))


class _CountingInt(int):
    compared = 0

    def __eq__(self, other: object) -> bool:
        type(self).compared += 1
        return int(self) == other

    __hash__ = int.__hash__


def test_motion_per_frame_is_linear_in_the_number_of_cuts():
    fs = _synthetic_stats(10.0, fps=25.0)
    exclude = [_CountingInt(f) for f in range(5, fs.n, 7)]
    _CountingInt.compared = 0
    motion_per_frame(fs, exclude)  # type: ignore[arg-type]
    # former: every neighbour looked up in the whole list, ~10 million comparisons here
    assert _CountingInt.compared < 10 * len(exclude)


def _novelty_embeddings_reference(vectors, times, n_seconds, window_s=5.0):
    out = np.zeros(n_seconds, np.float64)
    if vectors.size == 0 or n_seconds == 0:
        return out.tolist()
    sec = np.minimum(times.astype(np.int64), n_seconds - 1)
    means = np.zeros((n_seconds, vectors.shape[1]), np.float64)
    have = np.zeros(n_seconds, bool)
    for s in range(n_seconds):
        sel = sec == s
        if sel.any():
            means[s] = vectors[sel].mean(axis=0)
            have[s] = True
    w = max(1, int(math.ceil(window_s)))
    last = 0.0
    for s in range(n_seconds):
        if not have[s]:
            out[s] = last
            continue
        prev = [p for p in range(max(0, s - w), s) if have[p]]
        if not prev:
            out[s] = 0.0
        else:
            ref = means[prev].mean(axis=0)
            a, b = means[s], ref
            na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
            d = 0.0 if na == 0 or nb == 0 else float(1.0 - np.dot(a, b) / (na * nb))
            out[s] = min(1.0, d / 0.5)
        last = out[s]
    return out.tolist()


def test_novelty_from_embeddings_equals_the_reference():
    rng = np.random.default_rng(9)
    for _ in range(60):
        n_seconds = int(rng.integers(0, 120))
        count = int(rng.integers(0, 80))
        dim = int(rng.integers(1, 40))
        vectors = rng.standard_normal((count, dim)).astype(np.float32)
        times = rng.uniform(-1.5, n_seconds + 3, count)
        if rng.random() < 0.5:
            times = np.sort(times)
        window = float(rng.choice([1.0, 2.5, 5.0]))
        got = novelty_from_embeddings(vectors, times, n_seconds, window_s=window)
        assert got == _novelty_embeddings_reference(vectors, times, n_seconds, window)


def test_novelty_from_embeddings_memory_grows_with_the_embeddings_not_the_seconds():
    rng = np.random.default_rng(10)
    vectors = rng.standard_normal((200, 256)).astype(np.float32)
    times = np.sort(rng.uniform(0, 20_000, 200))
    peak = _peak_mb(lambda: novelty_from_embeddings(vectors, times, 20_000))
    # former: a (seconds x dim) float64 matrix, 41 MB here
    assert peak < 5, peak


def _novelty_histograms_reference(fs, n_seconds, window_s=5.0):
    out = np.zeros(n_seconds, np.float64)
    if fs.n == 0 or n_seconds == 0:
        return out.tolist()
    sec = np.minimum((np.arange(fs.n) / fs.fps).astype(np.int64), n_seconds - 1)
    means = np.zeros((n_seconds, fs.hist.shape[1]), np.float64)
    for s in range(n_seconds):
        sel = sec == s
        if sel.any():
            means[s] = fs.hist[sel].mean(axis=0)
    w = max(1, int(math.ceil(window_s)))
    for s in range(1, n_seconds):
        ref = means[max(0, s - w) : s].mean(axis=0)
        out[s] = min(1.0, 2.0 * float(np.abs(means[s] - ref).sum()) / 6.0)
    return out.tolist()


@pytest.mark.parametrize("fps", [12.5, 23.976, 25.0, 29.97, 60.0])
def test_novelty_from_histograms_equals_the_reference(fps):
    rng = np.random.default_rng(int(fps * 10))
    for _ in range(5):
        fs = _synthetic_stats(float(rng.uniform(0.01, 1.0)), fps=fps, seed=int(rng.integers(1000)))
        for n_seconds in (0, 1, max(1, math.ceil(fs.n / fps)), math.ceil(fs.n / fps) + 3, 5):
            assert novelty_from_histograms(fs, n_seconds) == _novelty_histograms_reference(fs, n_seconds)


# --------------------------------------------------------------------------- impacts


def _combine_reference(visual, audio, pair_s=0.12):
    """Every visual impact against every audio impact (the former implementation)."""
    used_a: set[int] = set()
    out = []
    for v in visual:
        best, best_dt = None, pair_s + 1e-9
        for k, a in enumerate(audio):
            dt = abs(a["time"] - v["time"])
            if k not in used_a and dt <= best_dt:
                best, best_dt = k, dt
        if best is not None:
            used_a.add(best)
            a = audio[best]
            s = min(1.0, max(v["strength"], a["strength"]) + 0.5 * min(v["strength"], a["strength"]))
            out.append({"time": a["time"], "strength": round(s, 3), "kind": "audiovisual"})
        else:
            out.append({"time": v["time"], "strength": v["strength"], "kind": "visual"})
    for k, a in enumerate(audio):
        if k not in used_a:
            out.append({"time": a["time"], "strength": a["strength"], "kind": "audio"})
    return sorted(out, key=lambda d: d["time"])


def _random_impacts(rng: np.random.Generator, count: int, span: float, step: float) -> list[dict[str, Any]]:
    times = np.round(rng.uniform(0, span, count) / step) * step  # on a grid: equal distances happen
    return [{"time": round(float(t), 3), "strength": round(float(s), 3)} for t, s in zip(times, rng.random(count))]


def test_combine_impacts_equals_the_all_pairs_reference():
    rng = np.random.default_rng(13)
    for _ in range(400):
        span = float(rng.choice([0.5, 3.0, 30.0]))
        step = float(rng.choice([0.001, 0.02, 0.04, 0.06]))
        vis = _random_impacts(rng, int(rng.integers(0, 25)), span, step)
        aud = _random_impacts(rng, int(rng.integers(0, 25)), span, step)
        if rng.random() < 0.7:
            vis.sort(key=lambda d: d["time"])
            aud.sort(key=lambda d: d["time"])
        pair_s = float(rng.choice([0.0, 0.04, 0.12, 0.5]))
        assert combine_impacts(vis, aud, pair_s=pair_s) == _combine_reference(vis, aud, pair_s)


def test_combine_impacts_reads_each_audio_impact_a_bounded_number_of_times():
    rng = np.random.default_rng(14)
    vis = sorted(_random_impacts(rng, 3000, 3600.0, 0.04), key=lambda d: d["time"])
    aud = [_CountingDict(a) for a in sorted(_random_impacts(rng, 3000, 3600.0, 0.05), key=lambda d: d["time"])]
    _CountingDict.reads = 0
    out = combine_impacts(vis, aud)
    assert any(o["kind"] == "audiovisual" for o in out)
    # former: every visual impact read every audio impact, 9 million reads here
    assert _CountingDict.reads < 20 * len(aud)
