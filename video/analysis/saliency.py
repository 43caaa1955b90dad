"""Where the important content of each sampled frame is: saliency, motion, text, a tracked subject.

Computed from what the single low-resolution decode already delivers (the ``sample_fps``
RGB samples, 224 px on the long side, see :mod:`video.analysis.decode`), so it costs a few
milliseconds per sample and no extra decode.  Per sample:

* **image saliency** — the spectral residual (Hou & Zhang 2007) of the luma on a 64-px grid,
  plus a frequency-tuned colour contrast (distance of the blurred Lab picture from its mean,
  Achanta et al. 2009): a distinct object pops out, a repeated texture does not;
* **motion energy** — the absolute difference to the previous sample *of the same shot*,
  after removing the global (camera) shift found by phase correlation; it marks what moves
  against the background;
* **text** — high-contrast, character-sized strokes closed into wide rows (morphological
  gradient, a contrast threshold, a horizontal closing): title cards and banners;
* **subject** — the strongest blob of the combined map, linked causally to the previous
  sample's subject inside the shot (a blob near the last position is preferred), reset at cuts.

Result (``result["saliency"]``, JSON)::

    {"version": "1", "hop_s": 0.5, "frame": [w, h], "cuts": [s, ...],   # shot starts after the first
     "samples": [{"t": s, "shot": k,
                  "subject": [x0, y0, x1, y1] | None,   # the tracked main subject, 0..1
                  "extent": [x0, y0, x1, y1] | None,    # everything important (subjects + text)
                  "text": [[x0, y0, x1, y1], ...],      # text rows
                  "motion": 0..1,                       # motion energy of the sample
                  "conf": 0..1,                         # 1 - salient area / 30 % of the frame
                  "area": 0..1}]}                       # share of the frame above the blob threshold

The renderer decides from ``extent`` whether the important content fits its crop window
(``rendering.engine.reframe``); the analysis does not know the output aspect.  Memory is
bounded: one sample and its predecessor at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from video.analysis.cvthreads import opencv_threads

__all__ = [
    "SALIENCY_PARAMS",
    "saliency_info",
    "compute_saliency",
    "sample_saliency",
    "sample_parts",
    "assemble_sample",
    "text_boxes",
]

SALIENCY_VERSION = "1"

SALIENCY_PARAMS: dict[str, Any] = {
    "sr_width": 64,  # spectral-residual grid width (px)
    "map_width": 64,  # combined map width (px)
    "weights": {"spectral": 0.35, "contrast": 0.35, "motion": 0.6},
    "blob_threshold": 0.45,  # of the map's max
    "secondary_mass": 0.35,  # a blob with this share of the main blob's mass counts in the extent
    "diffuse_area": 0.3,  # above this share of the frame the map is diffuse: no subject
    "min_conf": 0.25,  # a subject needs conf >= this (its blob under ~22 % of the frame)
    "text_contrast": 48,  # morphological gradient (0..255) of a character stroke
    "track_radius": 0.2,  # frame widths: a blob this close to the last subject continues it
}


def saliency_info() -> dict[str, Any]:
    return {"name": "spectral-residual+contrast+motion+text", "version": SALIENCY_VERSION, "params": SALIENCY_PARAMS}


def _norm(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    if hi - lo < 1e-6:
        return np.zeros_like(m, dtype=np.float32)
    return ((m - lo) / (hi - lo)).astype(np.float32)


def _spectral_residual(gray: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h = max(8, round(gray.shape[0] * width / gray.shape[1]))
    small = cv2.resize(gray, (width, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-6).astype(np.float32)
    phase = np.angle(spec)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REPLICATE)
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 2.5)
    return _norm(sal)


def _contrast(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    blurred = cv2.GaussianBlur(lab, (0, 0), 1.0)
    # the background is the frame's dominant colour: the median is robust to a large subject
    ref = np.median(lab.reshape(-1, 3), axis=0)
    return _norm(np.sqrt(((blurred - ref) ** 2).sum(axis=-1)))


def _motion(prev: np.ndarray, gray: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Motion map after removing the global shift; and the motion energy (0..1)."""
    import cv2

    # half resolution is plenty for a global shift and a motion map (and 4x cheaper)
    # (sizes with small prime factors: the DFT of phase correlation is fastest there)
    half = (cv2.getOptimalDFTSize(max(16, prev.shape[1] // 2)), cv2.getOptimalDFTSize(max(16, prev.shape[0] // 2)))
    a = cv2.resize(prev, half, interpolation=cv2.INTER_AREA).astype(np.float32)
    b = cv2.resize(gray, half, interpolation=cv2.INTER_AREA).astype(np.float32)
    (dx, dy), response = cv2.phaseCorrelate(a, b)
    if response > 0.1 and abs(dx) < a.shape[1] / 4 and abs(dy) < a.shape[0] / 4:
        m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float32)
        a = np.asarray(cv2.warpAffine(a, m, (a.shape[1], a.shape[0]), borderMode=cv2.BORDER_REPLICATE))
    diff = cv2.absdiff(cv2.GaussianBlur(a, (0, 0), 1.0), cv2.GaussianBlur(b, (0, 0), 1.0))
    # ignore the border strip the shift exposed
    bx, by = int(min(abs(dx), a.shape[1] / 4)) + 2, int(min(abs(dy), a.shape[0] / 4)) + 2
    diff[:by, :] = 0
    diff[-by:, :] = 0
    diff[:, :bx] = 0
    diff[:, -bx:] = 0
    small = np.asarray(cv2.resize(diff, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    energy = float(np.clip(np.percentile(small, 99) / 64.0, 0.0, 1.0))
    return small, energy


def text_boxes(gray: np.ndarray, *, contrast: float = SALIENCY_PARAMS["text_contrast"]) -> list[list[float]]:
    """Rows of high-contrast character strokes, ``[x0, y0, x1, y1]`` normalised (widest first)."""
    import cv2

    h, w = gray.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, kernel)
    strokes = (grad >= contrast).astype(np.uint8)
    gap = max(3, w // 40)  # letters of a word are this close
    rows = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (gap * 2 + 1, 3)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(rows, connectivity=8)
    out: list[list[float]] = []
    sw, sh = stats[1:, 2], stats[1:, 3]
    # row-shaped components only (most of a busy picture's components fail here, vectorised)
    shaped = (sh >= max(4, h * 0.04)) & (sh <= h * 0.35) & (sw >= 2.0 * sh) & (sw >= w * 0.12)
    for i in np.flatnonzero(shaped) + 1:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        box = strokes[y : y + bh, x : x + bw]
        fill = float(box.mean())
        # characters: many separate strokes, a moderate ink density, in a band that is mostly closed
        if not (0.12 <= fill <= 0.75) or area < 0.5 * bw * bh:
            continue
        n_strokes = cv2.connectedComponents(box, connectivity=8)[0] - 1
        # vertical stroke transitions along the row's middle: letters alternate ink and gap
        mid = box[bh // 2]
        transitions = int(np.count_nonzero(np.diff(mid.astype(np.int8))))
        if n_strokes < 3 or transitions < max(6, bw // (bh * 2)):
            continue
        out.append([round(x / w, 4), round(y / h, 4), round((x + bw) / w, 4), round((y + bh) / h, 4)])
    out.sort(key=lambda b: -(b[2] - b[0]))
    return out[:6]


def _blobs(sal: np.ndarray, threshold: float) -> list[tuple[float, list[float], tuple[float, float]]]:
    """``(mass, [x0, y0, x1, y1], (cx, cy))`` of the map's blobs above ``threshold * max``, normalised."""
    import cv2

    h, w = sal.shape
    peak = float(sal.max())
    if peak <= 1e-6:
        return []
    mask = (sal >= threshold * peak).astype(np.uint8)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
    masses = np.bincount(labels.ravel(), weights=sal.ravel(), minlength=n)
    out = []
    for i in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        mass = float(masses[i])
        out.append(
            (
                mass,
                [x / w, y / h, (x + bw) / w, (y + bh) / h],
                (float(cents[i][0]) / w, float(cents[i][1]) / h),
            )
        )
    out.sort(key=lambda b: -b[0])
    return out


def _measure(sal: np.ndarray) -> tuple[float, float, list[tuple[float, list[float], tuple[float, float]]]]:
    """``(area, conf, blobs)`` of a combined map (blurred first)."""
    import cv2

    p = SALIENCY_PARAMS
    sal = cv2.GaussianBlur(sal, (0, 0), 1.0)
    peak = float(sal.max())
    area = float((sal >= p["blob_threshold"] * peak).mean()) if peak > 1e-6 else 1.0
    # how concentrated the saliency is: a subject covers a few % of the frame, a
    # diffuse picture (a landscape, a bare texture) a large part of it
    conf = float(np.clip(1.0 - area / p["diffuse_area"], 0.0, 1.0))
    blobs = _blobs(sal, float(p["blob_threshold"])) if conf >= p["min_conf"] else []
    return area, conf, blobs


def sample_parts(
    rgb: np.ndarray, prev_gray: np.ndarray | None, *, still: bool = False
) -> tuple[dict[str, Any], np.ndarray]:
    """What one sample's saliency needs that does not depend on the shot (:func:`assemble_sample` finishes it).

    ``prev_gray``: the previous sample's gray picture (its motion map is then measured
    against it), or None.  The parts hold the text rows, the motion energy and the
    ``(area, conf, blobs)`` of the map with motion (``moving``, when the motion counts)
    and of the static map (``still``: when there is no motion to add, or with
    ``still=True``, for a caller that learns only later whether ``prev_gray`` was of the
    same shot -- :mod:`video.analysis.early`).  Returns the parts and the sample's gray
    picture (the next call's ``prev_gray``).
    """
    import cv2

    p = SALIENCY_PARAMS
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mw = int(p["map_width"])
    mh = max(8, round(gray.shape[0] * mw / gray.shape[1]))
    sr = cv2.resize(_spectral_residual(gray, int(p["sr_width"])), (mw, mh), interpolation=cv2.INTER_LINEAR)
    fc = _contrast(rgb, (mw, mh))
    wts = p["weights"]
    static = _norm(wts["spectral"] * sr + wts["contrast"] * fc)
    motion_energy: float | None = None
    moving = None
    if prev_gray is not None and prev_gray.shape == gray.shape:
        mot, motion_energy = _motion(prev_gray, gray, (mw, mh))
        if motion_energy > 0.08:
            # what moves, where the current picture is distinct (not where the subject was)
            moving = _measure(_norm(static + wts["motion"] * motion_energy * _norm(mot) * (0.5 + static)))
    parts = {
        "text": text_boxes(gray),
        "motion": motion_energy,  # None: no previous sample to measure against
        "moving": moving,
        "still": _measure(static) if still or moving is None else None,
    }
    return parts, gray


def assemble_sample(parts: dict[str, Any], in_shot: bool, last_subject: Sequence[float] | None) -> dict[str, Any]:
    """The JSON-able sample (without ``t``/``shot``) from :func:`sample_parts`.

    ``in_shot``: the ``prev_gray`` the parts were measured against is of the same shot
    (the motion then counts); ``last_subject``: the previous sample's subject in the shot.
    """
    p = SALIENCY_PARAMS
    motion_energy = parts["motion"] if in_shot and parts["motion"] is not None else 0.0
    measured = parts["moving"] if in_shot and parts["moving"] is not None else parts["still"]
    area, conf, blobs = measured
    texts = parts["text"]
    subject: list[float] | None = None
    extent: list[float] | None = None
    if blobs:
        main = blobs[0]
        if last_subject is not None:
            lx, ly = (last_subject[0] + last_subject[2]) / 2, (last_subject[1] + last_subject[3]) / 2
            near = [b for b in blobs if abs(b[2][0] - lx) <= p["track_radius"] and abs(b[2][1] - ly) <= 0.5]
            # continue the track unless something clearly stronger appeared elsewhere
            if near and near[0][0] >= 0.5 * main[0]:
                main = near[0]
        subject = [round(v, 4) for v in main[1]]
        keep = [b[1] for b in blobs if b[0] >= p["secondary_mass"] * main[0]]
        boxes = keep + texts
        extent = [
            round(min(b[0] for b in boxes), 4),
            round(min(b[1] for b in boxes), 4),
            round(max(b[2] for b in boxes), 4),
            round(max(b[3] for b in boxes), 4),
        ]
    elif texts:
        extent = [
            min(b[0] for b in texts),
            min(b[1] for b in texts),
            max(b[2] for b in texts),
            max(b[3] for b in texts),
        ]
    return {
        "subject": subject,
        "extent": extent,
        "text": texts,
        "motion": round(motion_energy, 3),
        "conf": round(conf, 3),
        "area": round(area, 3),
    }


def sample_saliency(
    rgb: np.ndarray, prev_gray: np.ndarray | None, last_subject: Sequence[float] | None
) -> tuple[dict[str, Any], np.ndarray]:
    """Saliency of one RGB sample (``prev_gray``: the previous sample of the same shot, or None).

    Returns the JSON-able sample (without ``t``/``shot``) and this sample's gray picture
    (the next call's ``prev_gray``).
    """
    parts, gray = sample_parts(rgb, prev_gray)
    return assemble_sample(parts, True, last_subject), gray


def _shot_index(times: np.ndarray, shots: Sequence[dict[str, Any]] | None) -> np.ndarray:
    if not shots:
        return np.zeros(len(times), np.int64)
    starts = np.asarray([float(s["start"]) for s in shots])
    return np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(shots) - 1)


def compute_saliency(
    samples: np.ndarray,
    times: np.ndarray | Sequence[float],
    shots: Sequence[dict[str, Any]] | None = None,
    *,
    early: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The ``saliency`` block for RGB ``samples`` at ``times``; ``shots`` resets tracking at cuts.

    ``early``: :func:`sample_parts` of the first ``len(early)`` samples, each measured
    against the sample before it with ``still=True`` (:mod:`video.analysis.early` computes
    them while the decode runs); those samples are not read again.  The result is the same.
    """
    times = np.asarray(times, dtype=np.float64)
    out: list[dict[str, Any]] = []
    shot_of = _shot_index(times, shots)
    prev_gray: np.ndarray | None = None
    last_subject: list[float] | None = None
    prev_shot = -1
    n_early = min(len(early), len(times))
    with opencv_threads(1):  # 64-px maps: one thread is as fast and spends less CPU (video.analysis.cvthreads)
        for i in range(len(times)):
            shot = int(shot_of[i])
            in_shot = shot == prev_shot
            if i < n_early:
                parts = early[i]
            else:
                if in_shot and prev_gray is None:  # the sample before was an early one
                    import cv2

                    prev_gray = cv2.cvtColor(samples[i - 1], cv2.COLOR_RGB2GRAY)
                parts, prev_gray = sample_parts(samples[i], prev_gray if in_shot else None)
            rec = assemble_sample(parts, in_shot, last_subject if in_shot else None)
            last_subject, prev_shot = rec["subject"], shot
            out.append({"t": round(float(times[i]), 3), "shot": shot, **rec})
    hop = float(np.median(np.diff(times))) if len(times) > 1 else 0.5
    h, w = (samples.shape[1], samples.shape[2]) if len(samples) else (0, 0)
    cuts = [round(float(s["start"]), 3) for s in (shots or [])[1:]]
    return {
        "version": SALIENCY_VERSION,
        "hop_s": round(hop, 4),
        "frame": [int(w), int(h)],
        "cuts": cuts,
        "samples": out,
    }
