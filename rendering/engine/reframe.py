"""Reframing: per segment, a crop window of the output aspect that follows the subject, or the fit layout.

Modes (``video.analysis.contracts.ReframeMode``; the renderer's ``mode`` setting):

* ``auto`` (default) — per segment: **fit** (the whole frame scaled to the output width over a
  blurred fill) when the important content is wider than the crop window (text across the
  frame, faces or subjects far apart, from the analysis' ``saliency`` extents); else a **crop**
  window that follows the faces, else the salient subject, else the frame centre;
* ``faces`` — crop following the faces, the frame centre where none is seen;
* ``center`` — crop the middle of the frame;
* ``fit`` — every segment fitted.

The legacy renderer modes ``crop`` (= ``faces``) and ``letterbox`` (= ``fit``) are still accepted.

Tracking (:func:`plan_segment_framing`) is **causal**: at time ``t`` the window depends only on
the samples at or before ``t`` (an alpha-beta filter of the subject centre; between two samples
the window moves linearly to where the filter predicts the subject at the next sample), so it
never moves toward a subject before the subject is seen; it is smoothed (a dead band, a speed
limit) and **reset at cuts** (the window jumps with the picture, to the new shot's first
sample).  The path is a list of ``(t, offset)`` knots turned into an ffmpeg expression of ``t``
by :func:`crop_path_expr`.

:func:`reframe_for_clip` picks the mode with the product's precedence: the artist's explicit
upload choice, else the clip model's ``reframe`` param (from the effective profile), else
``DEFAULT_REFRAME`` (``auto``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from video.analysis.contracts import DEFAULT_REFRAME, FaceSample, ReframeMode, clean_reframe

#: The renderer's ``mode`` setting -> the reframe mode (``crop``/``letterbox``: earlier spellings).
RENDER_MODES: dict[str, ReframeMode] = {
    "auto": "auto",
    "faces": "faces",
    "center": "center",
    "fit": "fit",
    "crop": "faces",
    "letterbox": "fit",
}


@dataclass(frozen=True)
class Reframe:
    """The reframe decision for one variant: the mode, who chose it, what the renderer gets."""

    mode: ReframeMode
    source: str  # "upload" | "clip" | "default"

    @property
    def render_mode(self) -> str:
        """The renderer's ``mode`` setting (the reframe mode itself)."""
        return self.mode

    def faces(self, faces: list[FaceSample] | None) -> list[FaceSample] | None:
        """The face samples the crop follows (``auto`` and ``faces``; ``center``/``fit`` ignore faces)."""
        return faces if self.mode in ("auto", "faces") else None

    def saliency(self, saliency: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """The saliency block the ``auto`` mode frames with (None for the other modes)."""
        return saliency if self.mode == "auto" else None


def reframe_for_clip(upload_choice: Any, clip_params: Mapping[str, Any] | None) -> Reframe:
    """Upload choice (when the artist gave one) > the clip model's param > ``DEFAULT_REFRAME``."""
    mode = clean_reframe(upload_choice)
    if mode is not None:
        return Reframe(mode, "upload")
    mode = clean_reframe((clip_params or {}).get("reframe"))
    if mode is not None:
        return Reframe(mode, "clip")
    return Reframe(DEFAULT_REFRAME, "default")


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= total / 2:
            return value
    return pairs[-1][0]


def face_centre(
    faces: Iterable[FaceSample] | None, start: float, end: float, *, min_score: float = 0.5
) -> tuple[float, float, int]:
    """Weighted median of face-box centres sampled in ``[start, end]``.

    Weight = score x box area, so the dominant (closest) face wins over small
    background faces.  Returns normalised ``(cx, cy, n_boxes)``; the frame
    centre ``(0.5, 0.5, 0)`` when no box qualifies.
    """
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    for sample in faces or ():
        t = float(sample.get("time", -1))
        if not (start <= t <= end):
            continue
        for box in sample.get("boxes") or ():
            x, y, w, h = (float(v) for v in box[:4])
            score = float(box[4]) if len(box) > 4 else 1.0
            if score < min_score or w <= 0 or h <= 0:
                continue
            xs.append(min(max(x + w / 2, 0.0), 1.0))
            ys.append(min(max(y + h / 2, 0.0), 1.0))
            ws.append(score * w * h)
    if not xs:
        return 0.5, 0.5, 0
    return _weighted_median(xs, ws), _weighted_median(ys, ws), len(xs)


def _even(v: float) -> int:
    return int(v) // 2 * 2


def crop_geometry(src_w: int, src_h: int, out_w: int, out_h: int, sar: float = 1.0) -> tuple[int, int]:
    """Largest window of the output aspect inside the source (source pixels, even)."""
    target = out_w / out_h
    display_w = src_w * sar
    if display_w / src_h > target:  # source wider: full height, cut the sides
        return min(_even(src_h * target / sar), src_w // 2 * 2), src_h // 2 * 2
    return src_w // 2 * 2, min(_even(display_w / target), src_h // 2 * 2)


def crop_offset(centre: float, size: int, crop: int) -> int:
    """Window offset centred on ``centre`` (normalised), clamped, even."""
    pos = centre * size - crop / 2
    pos = min(max(pos, 0.0), float(size - crop))
    return _even(round(pos))


def crop_track(
    faces: Iterable[FaceSample] | None,
    start: float,
    duration: float,
    *,
    axis: str,
    size: int,
    crop: int,
    step: float,
    min_score: float,
    max_speed: float,
    hold: float,
) -> tuple[tuple[float, int], ...] | None:
    """Smooth crop path for a long segment, or None when a constant window will do.

    Knots every ``step`` seconds take the weighted median face centre within
    +-step; gaps hold the nearest known value; then a 3-knot median and a
    3-knot mean remove detector jitter, and the speed is limited to
    ``max_speed * size`` pixels per second.  A path that moves less than
    ``hold * size`` collapses to a constant window (returns None).
    """
    n = max(1, math.ceil(duration / step - 1e-9))
    knots = [min(i * step, duration) for i in range(n + 1)]
    raw: list[float | None] = []
    for t in knots:
        cx, cy, count = face_centre(faces, start + t - step, start + t + step, min_score=min_score)
        raw.append((cx if axis == "x" else cy) if count else None)
    if sum(c is not None for c in raw) < 2:
        return None
    filled: list[float] = []
    last = next(c for c in raw if c is not None)
    for c in raw:
        last = c if c is not None else last
        filled.append(last)
    med = [sorted(filled[max(i - 1, 0) : i + 2])[len(filled[max(i - 1, 0) : i + 2]) // 2] for i in range(len(filled))]
    mean = [sum(med[max(i - 1, 0) : i + 2]) / len(med[max(i - 1, 0) : i + 2]) for i in range(len(med))]
    offsets = [float(crop_offset(c, size, crop)) for c in mean]
    for i in range(1, len(offsets)):
        limit = max_speed * size * (knots[i] - knots[i - 1])
        offsets[i] = min(max(offsets[i], offsets[i - 1] - limit), offsets[i - 1] + limit)
    if max(offsets) - min(offsets) <= hold * size:
        return None
    return tuple((round(t, 4), _even(o)) for t, o in zip(knots, offsets, strict=True))


def crop_path_expr(path: Sequence[tuple[float, int]]) -> str:
    """Piecewise-linear offset over ``t`` as a flat sum of clipped ramps (no nesting)."""
    expr = f"{path[0][1]}"
    for (t0, x0), (t1, x1) in zip(path[:-1], path[1:], strict=True):
        if x1 != x0 and t1 > t0:
            expr += f"+{(x1 - x0) / (t1 - t0):.4f}*clip(t-{t0:.4f},0,{t1 - t0:.4f})"
    return expr


def crop_path_at(path: Sequence[tuple[float, int]], t: float) -> float:
    """Python twin of :func:`crop_path_expr` (for tests and logs)."""
    value = float(path[0][1])
    for (t0, x0), (t1, x1) in zip(path[:-1], path[1:], strict=True):
        if t1 > t0:
            value += (x1 - x0) / (t1 - t0) * min(max(t - t0, 0.0), t1 - t0)
    return value


# --- per-segment framing (crop that follows, or fit) -----------------------------------------


@dataclass(frozen=True)
class Framing:
    """How one segment is framed."""

    layout: str  # "crop" | "fit"
    source: str  # "faces" | "saliency" | "center" | "fit": what decided it
    crop_x: int | None
    crop_y: int | None
    path: tuple[tuple[float, int], ...] | None  # ((t from the segment start, offset), ...) or None
    axis: str | None  # "x" | "y": the offset the path drives
    face_samples: int  # face boxes that steered the window
    reason: str  # one line for the plan's log


def _faces_at(sample: FaceSample, min_score: float) -> list[tuple[float, float, float, float, float]]:
    """``(x0, y0, x1, y1, weight)`` of the qualifying boxes of one face sample."""
    out = []
    for box in sample.get("boxes") or ():
        x, y, w, h = (float(v) for v in box[:4])
        score = float(box[4]) if len(box) > 4 else 1.0
        if score >= min_score and w > 0 and h > 0:
            out.append((x, y, x + w, y + h, score * w * h))
    return out


def _cuts_in(saliency: Mapping[str, Any] | None, start: float, end: float) -> list[float]:
    cuts = (saliency or {}).get("cuts") or []
    return [float(c) for c in cuts if start < float(c) < end]


def _shot_start(saliency: Mapping[str, Any] | None, t: float) -> float:
    """The start of the shot holding ``t`` (0 without cut information)."""
    before = [float(c) for c in (saliency or {}).get("cuts") or [] if float(c) <= t + 1e-6]
    return max(before) if before else 0.0


@dataclass
class _Obs:
    t: float
    centre: float | None  # normalised along the axis
    kind: str  # "face" | "saliency" | "none"
    wide: bool  # the important content is wider than the window
    text_wide: bool  # text wider than the window


def _observations(
    faces: Sequence[FaceSample] | None,
    saliency: Mapping[str, Any] | None,
    start: float,
    end: float,
    *,
    axis: str,
    window: float,
    min_score: float,
    use_saliency: bool,
) -> list[_Obs]:
    """One observation per analysis sample in ``[start, end]``: the subject centre along ``axis``."""
    lo, hi = (0, 2) if axis == "x" else (1, 3)
    by_time: dict[float, _Obs] = {}
    for f in faces or ():
        t = float(f.get("time", -1))
        if not (start <= t <= end):
            continue
        boxes = _faces_at(f, min_score)
        if not boxes:
            continue
        total = sum(b[4] for b in boxes)
        centre = sum((b[lo] + b[hi]) / 2 * b[4] for b in boxes) / total
        # faces that matter (a quarter of the biggest's weight) must all fit
        big = max(b[4] for b in boxes)
        main = [b for b in boxes if b[4] >= 0.25 * big]
        span = max(b[hi] for b in main) - min(b[lo] for b in main)
        by_time[round(t, 3)] = _Obs(t, centre, "face", span > window * 0.95, False)
    if use_saliency:
        for s in (saliency or {}).get("samples") or ():
            t = float(s.get("t", -1))
            if not (start <= t <= end):
                continue
            texts = s.get("text") or []
            text_wide = any(float(b[hi]) - float(b[lo]) > window * 0.95 for b in texts)
            ext = s.get("extent")
            wide = text_wide or (ext is not None and float(ext[hi]) - float(ext[lo]) > window * 0.95)
            key = round(t, 3)
            near_face = next((o for k, o in by_time.items() if abs(k - t) < 0.13), None)
            if near_face is not None:
                near_face.wide = near_face.wide or text_wide
                near_face.text_wide = text_wide
                continue
            subj = s.get("subject")
            sc = (float(subj[lo]) + float(subj[hi])) / 2 if subj else None
            by_time[key] = _Obs(t, sc, "saliency" if subj else "none", wide, text_wide)
    return [by_time[k] for k in sorted(by_time)]


def plan_segment_framing(
    src_in: float,
    duration: float,
    *,
    mode: str,
    faces: Sequence[FaceSample] | None,
    saliency: Mapping[str, Any] | None,
    src_w: int,
    src_h: int,
    crop_w: int,
    crop_h: int,
    fps: float,
    st: Mapping[str, Any],
    start_offset: float | None = None,
) -> Framing:
    """Frame one segment (see the module docstring).  ``mode``: a renderer mode (``RENDER_MODES``).

    ``start_offset``: where the previous segment's window ended when this segment continues it
    in the source (same shot): the path starts there, so consecutive pieces of one shot do not
    jump.
    """
    rmode = RENDER_MODES.get(mode, "auto")
    if rmode == "fit":
        return Framing("fit", "fit", None, None, None, None, 0, "fit (mode)")
    axis = "x" if crop_w < src_w else "y"
    size = src_w if axis == "x" else src_h
    crop = crop_w if axis == "x" else crop_h
    window = crop / size
    cx0 = crop_offset(0.5, src_w, crop_w)
    cy0 = crop_offset(0.5, src_h, crop_h)
    if rmode == "center" or crop >= size:
        return Framing("crop", "center", cx0, cy0, None, None, 0, "centre")
    end = src_in + duration
    min_score = float(st["face_min_score"])
    # the samples of the last second before the segment (same shot): the window starts on
    # what was on screen just before (causal), and sparse samples still cover a short cut
    look = max(_shot_start(saliency, src_in), src_in - float(st["track_lookback_s"]))
    obs = _observations(
        faces, saliency, look, end, axis=axis, window=window, min_score=min_score, use_saliency=rmode == "auto"
    )
    n_faces = sum(1 for o in obs if o.kind == "face")
    if rmode == "auto" and obs:
        n_text = sum(1 for o in obs if o.text_wide)
        n_wide = sum(1 for o in obs if o.wide)
        if n_text or n_wide >= max(1, math.ceil(float(st["fit_wide_share"]) * len(obs))):
            why = "text wider than the window" if n_text else f"content wider than the window in {n_wide}/{len(obs)}"
            return Framing("fit", "fit", None, None, None, None, n_faces, f"fit: {why}")
    if not any(o.centre is not None for o in obs):
        return Framing("crop", "center", cx0, cy0, None, None, 0, "centre (nothing to follow)")
    path = _causal_path(
        obs, src_in, duration, saliency, size=size, crop=crop, fps=fps, st=st, start_offset=start_offset
    )
    source = "faces" if n_faces else "saliency"
    offs = [o for _, o in path]
    if max(offs) - min(offs) <= float(st["face_hold_fraction"]) * size or not st["crop_track"]:
        # a still subject: one window (the path's median position)
        off = sorted(offs)[len(offs) // 2]
        x, y = (off, cy0) if axis == "x" else (cx0, off)
        return Framing("crop", source, x, y, None, None, n_faces, f"{source} (still)")
    x, y = (path[0][1], cy0) if axis == "x" else (cx0, path[0][1])
    return Framing("crop", source, x, y, path, axis, n_faces, f"{source} (tracked, {len(path)} knots)")


def _causal_path(
    obs: Sequence[_Obs],
    src_in: float,
    duration: float,
    saliency: Mapping[str, Any] | None,
    *,
    size: int,
    crop: int,
    fps: float,
    st: Mapping[str, Any],
    start_offset: float | None = None,
) -> tuple[tuple[float, int], ...]:
    """Knots ``(t, offset)`` of a causal, smoothed window path over the segment (t from its start)."""
    alpha, beta = float(st["track_alpha"]), float(st["track_beta"])
    dead = float(st["track_dead_band"]) * size
    max_step = float(st["crop_track_max_speed"]) * size
    frame = 1.0 / fps
    cuts = _cuts_in(saliency, src_in, src_in + duration)

    def offset(centre: float) -> float:
        return min(max(centre * size - crop / 2, 0.0), float(size - crop))

    # the window at the segment start: the subject on screen now (the latest sample at most
    # half a sample interval after the start, or before it), else the centre
    gaps = sorted(b.t - a.t for a, b in zip(obs[:-1], obs[1:], strict=True) if b.t > a.t)
    hop = min(max(gaps[len(gaps) // 2] if gaps else float((saliency or {}).get("hop_s") or 0.5), 0.05), 1.0)
    first = [o for o in obs if o.centre is not None and o.t <= src_in + hop / 2 + 1e-6]
    pos = offset(first[-1].centre) if first and first[-1].centre is not None else offset(0.5)
    if start_offset is not None:
        pos = min(max(float(start_offset), 0.0), float(size - crop))
    knots: list[tuple[float, float]] = [(0.0, pos)]
    s: float | None = None  # filter state (subject centre, px) and velocity (px/s)
    v = 0.0
    last_t = src_in
    last_seen = -1e9
    shot_i = 0
    recent: list[float] = []  # the last three measurements of the shot (a causal median)
    n_meas = 0
    steady = False  # the last three measurements go one way
    for o in obs:
        # a cut between the last sample and this one: reset, jump with the picture
        while shot_i < len(cuts) and cuts[shot_i] <= o.t:
            c = cuts[shot_i]
            shot_i += 1
            s, v, n_meas = None, 0.0, 0
            recent = []
            if o.centre is not None and o.t - c <= hop + 1e-6:
                new = offset(o.centre)
                t_c = c - src_in
                knots.append((max(t_c - frame, knots[-1][0]), knots[-1][1]))
                knots.append((t_c, new))
                pos = new
            last_t = c
        dt = max(o.t - last_t, 1e-3)
        prev_s = s
        if o.centre is not None:
            recent = [*recent[-2:], o.centre * size]
            z = recent[-1]
            r0, r1, r2 = recent if len(recent) == 3 else (z, z, z)
            # steady motion: three samples one way, or a first step bigger than the dead band
            steady = (len(recent) == 3 and (r0 <= r1 <= r2 or r0 >= r1 >= r2)) or (
                len(recent) == 2 and abs(recent[1] - recent[0]) > dead
            )
            if not (r0 <= r1 <= r2 or r0 >= r1 >= r2):
                z = sorted(recent)[1]  # back and forth: detector jitter, take the median
                v = 0.0
            if s is None:
                s, v, n_meas = z, 0.0, 1
            elif n_meas == 1:
                # the second measurement: start from the observed speed (two-point start)
                v, s, n_meas = (z - s) / dt, z, 2
            else:
                pred = s + v * dt
                r = z - pred
                s = pred + alpha * r
                v = v + beta * r / dt
            last_seen = o.t
        elif s is not None:
            s = s + v * dt
            v *= 0.5
            if o.t - last_seen > 2.0:  # lost for 2 s: hold where it was last
                v = 0.0
        last_t = o.t
        if s is None:
            continue
        # where the subject will be at the next sample (causal prediction)
        target_c = s + (v * hop if steady else 0.0)
        target = min(max(target_c - crop / 2, 0.0), float(size - crop))
        # dead band: keep the window while the subject stays near its middle; a new subject
        # (just acquired) is reached quickly, otherwise the speed is limited
        # a subject steadily on the move is followed without the dead band
        moving = steady and abs(v) * hop > dead / 2
        new = target if moving or abs(target - pos) > dead else pos
        acquired = o.centre is not None and last_seen == o.t and prev_s is None
        if not acquired:
            new = min(max(new, pos - max_step * hop), pos + max_step * hop)
        if o.t <= src_in + hop / 2 + 1e-6:
            # samples before (or right at) the start only set the filter and the first window
            if o.centre is not None and start_offset is None:
                pos = offset(o.centre)
                knots[0] = (0.0, pos)
            continue
        # a ramp still running (an acquisition) finishes first
        t_knot = max(min(o.t - src_in, duration), knots[-1][0])
        # the move toward ``new`` starts at this sample and lasts until the next one
        if new != pos:
            if t_knot > knots[-1][0]:
                knots.append((t_knot, pos))
            ramp = min(float(st["track_acquire_s"]), hop) if acquired else hop
            knots.append((min(t_knot + ramp, duration), new))
            pos = new
    if knots[-1][0] < duration:
        knots.append((duration, knots[-1][1]))
    out: list[tuple[float, int]] = []
    for t_raw, off in knots:
        tk = round(min(max(t_raw, 0.0), duration), 4)
        ok = _even(round(off))
        if out and tk <= out[-1][0]:
            if tk == out[-1][0]:
                out[-1] = (tk, ok)
            continue
        out.append((tk, ok))
    return tuple(out)


def framing_offset_at(framing: Framing, t: float) -> tuple[float, float] | None:
    """The window's ``(x, y)`` at ``t`` s from the segment start (None for a fit segment)."""
    if framing.layout != "crop" or framing.crop_x is None or framing.crop_y is None:
        return None
    if not framing.path:
        return float(framing.crop_x), float(framing.crop_y)
    off = crop_path_at(framing.path, t)
    return (off, float(framing.crop_y)) if framing.axis == "x" else (float(framing.crop_x), off)
