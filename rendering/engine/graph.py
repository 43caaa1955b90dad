"""Edit decision list -> one ffmpeg command per variant.

Plain Python (no Django).  The public entry points are :func:`plan_render`
(pure arithmetic: frame-quantised segments, crop windows, audio mode) and
:func:`build_command` (the ffmpeg argv for the final encode).
:func:`build_loudness_command` builds the audio-only measurement pass used by
two-pass loudnorm.

Seek strategy (default ``seek="input"``): every segment is its own input,
``-ss SRC_IN -t DUR -i SRC``, so ffmpeg seeks to the keyframe before SRC_IN and
decodes only from there (accurate seek: frames before SRC_IN are dropped and
timestamps restart at 0 at SRC_IN).  Decoding the whole 5-minute source
through ``trim`` filters costs a full decode per variant and, with
out-of-order segments, buffers decoded frames in ``split``; ``seek="trim"`` is
kept for comparison in the benchmark.

Timing model, which is what makes A/V sync exact:

* segment boundaries are quantised to the *output* frame grid cumulatively
  (boundary k = round(cumulative_seconds * fps)), so the video of every
  segment is a whole number of frames and the total never drifts;
* each SRC_IN is moved to the nearest source frame start (<= half a frame,
  ``snap_to_source_frames``), so audio and video of a segment begin at the
  same instant;
* audio of a segment is exactly ``frames / fps`` seconds of samples
  (``atrim=end_sample``) starting at SRC_IN, padded with silence if the
  source's audio starts late or ends early (``aresample first_pts=0`` + ``apad``);
* video goes through ``fps=FPS:start_time=0`` (timestamps relative to SRC_IN,
  rounded to the nearest output frame), so output frame k shows the source
  frame displayed at SRC_IN + k/fps (within half a source frame), then
  ``trim=end_frame=N`` after a short ``tpad`` clone for segments that touch
  the end of the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from ._proc import FFMPEG
from .errors import RenderError

DEFAULT_SETTINGS: dict[str, Any] = {
    # geometry
    "width": 1080,
    "height": 1920,
    "fps": 30,  # number, "30000/1001", or "source"
    "mode": "crop",  # "crop" (fill, centred on faces) | "letterbox" (fit + pad)
    "letterbox_background": "blur",  # "blur" | "black"
    "scale_flags": "bicubic",
    # face-centred crop
    "face_min_score": 0.5,
    "face_hold_fraction": 0.04,  # keep the previous x when a contiguous segment moves less than this * width
    # Long segments follow the face with a smooth, speed-limited path
    # (piecewise linear, knots every crop_track_step_s) instead of one window.
    "crop_track": True,
    "crop_track_min_s": 6.0,
    "crop_track_step_s": 1.0,
    "crop_track_max_speed": 0.25,  # fraction of the source width (height) per second
    # Move each cut-in to the nearest source frame start (<= half a frame), so
    # audio and video of a segment start at the same instant.
    "snap_to_source_frames": True,
    # video encode
    "preset": "veryfast",
    "crf": 20,
    "gop_seconds": 2.0,
    "threads": None,  # x264 threads (None: ffmpeg default)
    # audio
    "audio_bitrate": "192k",
    "sample_rate": 48000,
    "music_fade_in": 0.25,
    "music_fade_out": 0.75,
    "loudnorm": True,
    "loudness_target": -14.0,  # integrated LUFS
    "true_peak": -1.5,  # dBTP
    "lra": 11.0,
    "loudnorm_passes": 2,  # 1: single-pass dynamic; 2: measure, then linear when possible
    # process
    "seek": "input",  # "input" (one -ss input per segment) | "trim" (one input, trim filters)
    "timeout_s": 900.0,
    "verify": True,
    "faststart": True,
}

_ALLOWED: dict[str, set[Any]] = {
    "mode": {"crop", "letterbox"},
    "letterbox_background": {"blur", "black"},
    "seek": {"input", "trim"},
    "loudnorm_passes": {1, 2},
}


def resolve_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``settings``; unknown keys and bad values raise."""
    merged = dict(DEFAULT_SETTINGS)
    for key, value in (settings or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise RenderError("invalid_settings", f"unknown render setting {key!r}")
        merged[key] = value
    for key, allowed in _ALLOWED.items():
        if merged[key] not in allowed:
            raise RenderError("invalid_settings", f"setting {key}={merged[key]!r} not in {sorted(map(str, allowed))}")
    for key in ("width", "height"):
        if int(merged[key]) <= 0 or int(merged[key]) % 2:
            raise RenderError("invalid_settings", f"setting {key} must be a positive even integer")
    return merged


def parse_rate(value: Any) -> Fraction:
    """``30``, ``29.97``, ``"30000/1001"``, ``"30/1"`` -> Fraction."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        rate = Fraction(int(num), int(den))
    else:
        rate = Fraction(str(value)).limit_denominator(1001)
    if rate <= 0:
        raise RenderError("invalid_edl", f"invalid frame rate {value!r}")
    return rate


def _rate_str(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _f(x: float) -> str:
    """Seconds for an ffmpeg argument (microsecond precision, no exponent)."""
    return f"{x:.6f}"


@dataclass(frozen=True)
class Segment:
    """One cut, after frame quantisation (times in seconds)."""

    index: int
    src_in: float  # where decoding starts (snapped to a source frame when enabled)
    src_out: float  # src_in + duration (quantised)
    position: float  # output start
    duration: float  # frames / fps
    frames: int
    samples: int  # audio samples of this segment at the output sample rate
    crop_x: int | None = None
    crop_y: int | None = None
    face_samples: int = 0  # face boxes that decided the crop (0: frame centre)
    requested_in: float | None = None  # src_in as the EDL gave it
    # ((t, offset), ...) knots of a tracked crop along the free axis, t from
    # the segment start; None: the window is constant (crop_x, crop_y).
    crop_path: tuple[tuple[float, int], ...] | None = None
    crop_axis: str | None = None  # "x" or "y": which offset the path drives


@dataclass
class RenderPlan:
    segments: list[Segment]
    fps: Fraction
    source_fps: Fraction
    total_frames: int
    duration: float
    total_samples: int
    width: int
    height: int
    source_width: int
    source_height: int
    mode: str
    crop_w: int | None
    crop_h: int | None
    audio: str  # "source" | "music" | "silent"
    music_offset: float | None = None
    music_length: float | None = None  # seconds of music before padding (fade-out ends here)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fps"] = _rate_str(self.fps)
        out["source_fps"] = _rate_str(self.source_fps)
        return out

    def log_lines(self) -> list[str]:
        lines = [
            f"{len(self.segments)} segment(s), {self.total_frames} frames @ {_rate_str(self.fps)} fps"
            f" = {self.duration:.3f}s, {self.width}x{self.height} {self.mode}, audio={self.audio}"
        ]
        for s in self.segments:
            crop = f" crop_x={s.crop_x} crop_y={s.crop_y} faces={s.face_samples}" if s.crop_x is not None else ""
            if s.crop_path:
                offs = [o for _, o in s.crop_path]
                crop += f" tracked {s.crop_axis} {min(offs)}..{max(offs)} ({len(offs)} knots)"
            lines.append(
                f"segment {s.index}: src {s.src_in:.3f}-{s.src_out:.3f} -> out {s.position:.3f}"
                f" ({s.frames} frames){crop}"
            )
        lines.extend(f"note: {n}" for n in self.notes)
        return lines


# --------------------------------------------------------------------------- planning


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
    faces: Iterable[dict] | None, start: float, end: float, *, min_score: float = 0.5
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
    faces: Iterable[dict] | None,
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


def _meta_dims(meta: dict) -> tuple[int, int, float]:
    try:
        w, h = int(meta["width"]), int(meta["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RenderError("invalid_edl", "meta needs integer width and height") from exc
    if w <= 0 or h <= 0:
        raise RenderError("invalid_edl", f"invalid source size {w}x{h}")
    # ffmpeg auto-rotates on decode, so a 90-degree rotated phone video
    # reaches the filters with width and height swapped.
    if abs(int(meta.get("rotation") or 0)) % 180 == 90:
        w, h = h, w
    sar_raw = meta.get("sample_aspect_ratio") or meta.get("sar") or 1
    try:
        sar = float(parse_rate(str(sar_raw).replace(":", "/")))
    except (RenderError, ValueError, ZeroDivisionError):
        sar = 1.0
    return w, h, sar or 1.0


def plan_render(
    clip: dict,
    meta: dict,
    settings: dict[str, Any] | None = None,
    *,
    faces: list[dict] | None = None,
    music: bool = False,
    music_meta: dict | None = None,
) -> RenderPlan:
    """Validate and quantise the EDL, choose crop windows and the audio mode."""
    st = resolve_settings(settings)
    edl = clip.get("edl") or []
    if not edl:
        raise RenderError("invalid_edl", "clip has an empty edl")
    src_fps = parse_rate(meta.get("fps") or 30)
    fps = src_fps if st["fps"] == "source" else parse_rate(st["fps"])
    sr = int(st["sample_rate"])
    src_w, src_h, sar = _meta_dims(meta)
    src_dur = meta.get("duration")
    src_dur = float(src_dur) if src_dur not in (None, "") else None
    frame = 1 / float(fps)
    notes: list[str] = []

    rows = []
    for i, item in enumerate(edl):
        try:
            src_in, src_out = float(item["src_in"]), float(item["src_out"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RenderError("invalid_edl", f"edl[{i}] needs numeric src_in and src_out") from exc
        if not (math.isfinite(src_in) and math.isfinite(src_out)) or src_in < 0 or src_out <= src_in:
            raise RenderError("invalid_edl", f"edl[{i}] has src_in={src_in} src_out={src_out}")
        clamped = False
        if src_dur is not None:
            if src_in >= src_dur - frame:
                raise RenderError("invalid_edl", f"edl[{i}] starts at {src_in}s, past the source end {src_dur}s")
            if src_out > src_dur + frame:
                notes.append(f"edl[{i}] src_out {src_out:.3f} clamped to source end {src_dur:.3f}")
                src_out = src_dur
                clamped = True
        dur = item.get("duration")
        if dur is not None and abs(float(dur) - (src_out - src_in)) > frame + 1e-6 and not clamped:
            raise RenderError(
                "invalid_edl", f"edl[{i}] duration {dur} disagrees with src_out-src_in={src_out - src_in:.3f}"
            )
        rows.append((item.get("position"), i, src_in, src_out))
    if all(r[0] is not None for r in rows):
        rows.sort(key=lambda r: (float(r[0]), r[1]))

    segments: list[Segment] = []
    cum = 0.0
    prev_boundary = 0
    prev_samples = 0
    crop_w = crop_h = None
    if st["mode"] == "crop":
        crop_w, crop_h = crop_geometry(src_w, src_h, int(st["width"]), int(st["height"]), sar)
    prev_seg: Segment | None = None
    for k, (position, i, src_in, src_out) in enumerate(rows):
        if position is not None and abs(float(position) - cum) > frame + 1e-6:
            notes.append(f"edl[{i}] position {float(position):.3f} != running total {cum:.3f}; gaps are closed")
        cum += src_out - src_in
        requested_in = src_in
        if st["snap_to_source_frames"]:
            src_in = float(Fraction(round(Fraction(src_in) * src_fps)) / src_fps)
        boundary = round(cum * fps)
        frames = boundary - prev_boundary
        if frames < 1:
            raise RenderError("invalid_edl", f"edl[{i}] is shorter than one output frame")
        samples_boundary = round(Fraction(boundary) / fps * sr)
        start = float(Fraction(prev_boundary) / fps)
        duration = float(Fraction(frames) / fps)
        crop_x = crop_y = None
        crop_path = None
        crop_axis = None
        n_faces = 0
        if crop_w is not None and crop_h is not None:
            cx, cy, n_faces = face_centre(faces, src_in, src_in + duration, min_score=float(st["face_min_score"]))
            if n_faces == 0 and faces:
                # short cut between sparse face samples (the analyser samples
                # about once a second): look one second either side
                cx, cy, n_faces = face_centre(
                    faces, src_in - 1.0, src_in + duration + 1.0, min_score=float(st["face_min_score"])
                )
            crop_x = crop_offset(cx, src_w, crop_w)
            crop_y = crop_offset(cy, src_h, crop_h)
            # Hysteresis: a segment that continues the previous one in the
            # source keeps its window unless the face really moved.
            if (
                prev_seg is not None
                and prev_seg.crop_x is not None
                and prev_seg.crop_path is None
                and abs(prev_seg.src_out - src_in) <= frame
                and abs(crop_x - prev_seg.crop_x) <= st["face_hold_fraction"] * src_w
                and abs(crop_y - (prev_seg.crop_y or 0)) <= st["face_hold_fraction"] * src_h
            ):
                crop_x, crop_y = prev_seg.crop_x, prev_seg.crop_y
            if st["crop_track"] and faces and duration >= float(st["crop_track_min_s"]):
                axis = "x" if crop_w < src_w else "y"
                crop_path = crop_track(
                    faces,
                    src_in,
                    duration,
                    axis=axis,
                    size=src_w if axis == "x" else src_h,
                    crop=crop_w if axis == "x" else crop_h,
                    step=float(st["crop_track_step_s"]),
                    min_score=float(st["face_min_score"]),
                    max_speed=float(st["crop_track_max_speed"]),
                    hold=float(st["face_hold_fraction"]),
                )
                if crop_path:
                    crop_axis = axis
                    if axis == "x":
                        crop_x = crop_path[0][1]
                    else:
                        crop_y = crop_path[0][1]
        seg = Segment(
            index=k,
            src_in=src_in,
            src_out=src_in + duration,
            position=start,
            duration=duration,
            frames=frames,
            samples=samples_boundary - prev_samples,
            crop_x=crop_x,
            crop_y=crop_y,
            face_samples=n_faces,
            requested_in=requested_in,
            crop_path=crop_path,
            crop_axis=crop_axis,
        )
        segments.append(seg)
        prev_seg = seg
        prev_boundary = boundary
        prev_samples = samples_boundary

    total = float(Fraction(prev_boundary) / fps)
    audio = "music" if music else ("source" if meta.get("has_audio") else "silent")
    music_offset = music_length = None
    if music:
        music_offset = float(clip.get("music_offset") or 0.0)
        if music_offset < 0:
            raise RenderError("invalid_edl", f"music_offset {music_offset} < 0")
        music_length = total
        mdur = clip.get("music_duration")
        if mdur is not None and float(mdur) > 0:
            if abs(float(mdur) - total) > frame:
                notes.append(f"music_duration {float(mdur):.3f} != video {total:.3f}; music follows the video")
            music_length = min(float(mdur), total)
        if music_meta and music_meta.get("duration"):
            available = float(music_meta["duration"]) - music_offset
            if available <= 0:
                raise RenderError("invalid_edl", f"music_offset {music_offset} is past the music end")
            if available < music_length:
                notes.append(f"music ends {music_length - available:.3f}s early; padded with silence")
                music_length = available
    return RenderPlan(
        segments=segments,
        fps=fps,
        source_fps=src_fps,
        total_frames=prev_boundary,
        duration=total,
        total_samples=prev_samples,
        width=int(st["width"]),
        height=int(st["height"]),
        source_width=src_w,
        source_height=src_h,
        mode=st["mode"],
        crop_w=crop_w,
        crop_h=crop_h,
        audio=audio,
        music_offset=music_offset,
        music_length=music_length,
        notes=notes,
    )


# --------------------------------------------------------------------------- graph


def _input_margin(plan: RenderPlan) -> float:
    # Enough extra source so the fps filter sees the frame after the last one
    # it needs; trim/atrim cut the exact length afterwards.
    return 2 / float(plan.source_fps) + 2 / float(plan.fps)


def _inputs_and_taps(
    plan: RenderPlan, source: str, st: dict, *, video: bool, audio: bool
) -> tuple[list[str], list[str], list[tuple[str | None, str | None]]]:
    """Input args, filter lines that expose raw segment streams, and per-segment (v, a) labels."""
    args: list[str] = []
    lines: list[str] = []
    taps: list[tuple[str | None, str | None]] = []
    margin = _input_margin(plan)
    if st["seek"] == "input":
        for seg in plan.segments:
            if seg.src_in > 0:
                # 1 us early: a frame that starts exactly at src_in must
                # survive ffmpeg's accurate-seek trim whatever the rounding.
                args += ["-ss", _f(max(seg.src_in - 1e-6, 0.0))]
            args += ["-t", _f(seg.duration + margin)]
            if not video:
                args += ["-vn"]
            args += ["-protocol_whitelist", "file", "-i", source]
            taps.append((f"{seg.index}:v:0" if video else None, f"{seg.index}:a:0" if audio else None))
        return args, lines, taps
    # seek == "trim": one input (starting at the first needed second), split and trimmed.
    first = min(s.src_in for s in plan.segments)
    last = max(s.src_out for s in plan.segments) + margin
    base = max(first, 0.0)
    if base > 0:
        args += ["-ss", _f(max(base - 1e-6, 0.0))]
    args += ["-t", _f(last - base)]
    if not video:
        args += ["-vn"]
    args += ["-protocol_whitelist", "file", "-i", source]
    n = len(plan.segments)
    if video:
        lines.append(f"[0:v:0]split={n}" + "".join(f"[sv{k}]" for k in range(n)))
    if audio:
        lines.append(f"[0:a:0]asplit={n}" + "".join(f"[sa{k}]" for k in range(n)))
    for seg in plan.segments:
        k = seg.index
        rel = seg.src_in - base
        vlab = alab = None
        if video:
            lines.append(
                f"[sv{k}]trim=start={_f(rel)}:duration={_f(seg.duration + margin)},setpts=PTS-{_f(rel)}/TB[tv{k}]"
            )
            vlab = f"tv{k}"
        if audio:
            lines.append(
                f"[sa{k}]atrim=start={_f(rel)}:duration={_f(seg.duration + margin)},asetpts=PTS-{_f(rel)}/TB[ta{k}]"
            )
            alab = f"ta{k}"
        taps.append((vlab, alab))
    return args, lines, taps


def _audio_format(sr: int) -> str:
    return f"aresample={sr}:first_pts=0,aformat=sample_fmts=fltp:sample_rates={sr}:channel_layouts=stereo"


def _loudnorm(st: dict, measured: dict | None, *, print_json: bool = False) -> str:
    opts = f"I={float(st['loudness_target']):g}:TP={float(st['true_peak']):g}:LRA={float(st['lra']):g}"
    if measured:
        opts += (
            f":measured_I={float(measured['input_i']):.2f}:measured_TP={float(measured['input_tp']):.2f}"
            f":measured_LRA={float(measured['input_lra']):.2f}:measured_thresh={float(measured['input_thresh']):.2f}"
            f":offset={float(measured['target_offset']):.2f}:linear=true"
        )
    if print_json:
        opts += ":print_format=json"
    return f"loudnorm={opts}"


def _audio_chain(plan: RenderPlan, st: dict, taps: list, music_input: int | None, lines: list[str]) -> str | None:
    """Append the audio lines (up to, not including, loudnorm); return the label of the mixed audio."""
    sr = int(st["sample_rate"])
    if plan.audio == "silent":
        lines.append(f"anullsrc=r={sr}:cl=stereo,atrim=end_sample={plan.total_samples}[apre]")
        return "apre"
    if plan.audio == "music":
        assert music_input is not None and plan.music_length is not None
        fade_in = min(float(st["music_fade_in"]), plan.music_length / 4)
        fade_out = min(float(st["music_fade_out"]), plan.music_length / 4)
        chain = f"[{music_input}:a:0]{_audio_format(sr)},apad,atrim=end_sample={plan.total_samples}"
        if fade_in > 0:
            chain += f",afade=t=in:st=0:d={_f(fade_in)}:curve=tri"
        if fade_out > 0:
            chain += f",afade=t=out:st={_f(plan.music_length - fade_out)}:d={_f(fade_out)}:curve=tri"
        lines.append(chain + "[apre]")
        return "apre"
    for seg, (_, alab) in zip(plan.segments, taps, strict=True):
        lines.append(f"[{alab}]{_audio_format(sr)},apad,atrim=end_sample={seg.samples}[a{seg.index}]")
    if len(plan.segments) == 1:
        return "a0"
    return None  # concatenated together with video


def _video_chain(plan: RenderPlan, st: dict, taps: list, lines: list[str]) -> None:
    rate = _rate_str(plan.fps)
    for seg, (vlab, _) in zip(plan.segments, taps, strict=True):
        chain = (
            f"[{vlab}]fps={rate}:start_time=0:round=near,tpad=stop_mode=clone:stop=2,"
            f"trim=end_frame={seg.frames},setpts=PTS-STARTPTS"
        )
        if plan.mode == "crop" and seg.crop_path:
            # a smooth path: the offset is an expression of the frame time t
            path = crop_path_expr(seg.crop_path)
            x = f"'{path}'" if seg.crop_axis == "x" else str(seg.crop_x)
            y = f"'{path}'" if seg.crop_axis == "y" else str(seg.crop_y)
            chain += f",crop=w={plan.crop_w}:h={plan.crop_h}:x={x}:y={y}"
        elif plan.mode == "crop":
            chain += f",crop={plan.crop_w}:{plan.crop_h}:{seg.crop_x}:{seg.crop_y}"
        lines.append(chain + f",setsar=1[v{seg.index}]")


def _video_finish(plan: RenderPlan, st: dict, label: str, lines: list[str]) -> None:
    w, h, flags = plan.width, plan.height, st["scale_flags"]
    if plan.mode == "crop":
        lines.append(f"[{label}]scale={w}:{h}:flags={flags},setsar=1,format=yuv420p[vout]")
        return
    fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags={flags},setsar=1"
    if st["letterbox_background"] == "black":
        lines.append(f"[{label}]{fit},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,format=yuv420p[vout]")
        return
    # Blurred fill: blur a 1/8-size cover crop (cheap) and scale it back up.
    sw, sh = max(2, _even(w / 8)), max(2, _even(h / 8))
    lines.append(f"[{label}]split=2[lbfg][lbbg]")
    lines.append(
        f"[lbbg]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
        "boxblur=lr='min(8,min(w,h)/4)':lp=2:cr='min(4,min(cw,ch)/4)':cp=2,"
        f"scale={w}:{h}:flags=bilinear,setsar=1[lbblur]"
    )
    lines.append(f"[lbfg]{fit}[lbfit]")
    lines.append("[lbblur][lbfit]overlay=(W-w)/2:(H-h)/2,format=yuv420p[vout]")


def _common_head() -> list[str]:
    return [FFMPEG, "-hide_banner", "-nostdin", "-y"]


def build_command(
    source: str,
    clip: dict,
    out_path: str,
    *,
    music: str | None = None,
    faces: list[dict] | None = None,
    meta: dict,
    settings: dict[str, Any] | None = None,
    measured_loudness: dict | None = None,
    music_meta: dict | None = None,
    plan: RenderPlan | None = None,
) -> list[str]:
    """The ffmpeg argv that renders one variant in a single run.

    ``measured_loudness`` is the JSON printed by the measurement pass
    (:func:`build_loudness_command`); when given, loudnorm runs in linear
    (two-pass) mode, otherwise single-pass dynamic.
    """
    st = resolve_settings(settings)
    plan = plan or plan_render(clip, meta, st, faces=faces, music=bool(music), music_meta=music_meta)
    use_src_audio = plan.audio == "source"
    args, lines, taps = _inputs_and_taps(plan, source, st, video=True, audio=use_src_audio)
    music_input = None
    if plan.audio == "music":
        music_input = len(plan.segments) if st["seek"] == "input" else 1
        if plan.music_offset:
            args += ["-ss", _f(plan.music_offset)]
        args += ["-t", _f(plan.duration + 1.0), "-protocol_whitelist", "file", "-i", str(music)]

    _video_chain(plan, st, taps, lines)
    alabel = _audio_chain(plan, st, taps, music_input, lines)
    n = len(plan.segments)
    if n == 1:
        vlabel = "v0"
    elif use_src_audio:
        lines.append("".join(f"[v{k}][a{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=1[vcat][acat]")
        vlabel, alabel = "vcat", "acat"
    else:
        lines.append("".join(f"[v{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[vcat]")
        vlabel = "vcat"
    _video_finish(plan, st, vlabel, lines)

    sr = int(st["sample_rate"])
    if st["loudnorm"] and plan.audio != "silent" and not (measured_loudness and _is_silent(measured_loudness)):
        lines.append(
            f"[{alabel}]{_loudnorm(st, measured_loudness if st['loudnorm_passes'] == 2 else None)},"
            f"aresample={sr},aformat=sample_fmts=fltp:channel_layouts=stereo[aout]"
        )
    else:
        lines.append(f"[{alabel}]anull[aout]")

    gop = max(1, round(float(st["gop_seconds"]) * float(plan.fps)))
    out = [
        "-filter_complex",
        ";".join(lines),
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-c:v",
        "libx264",
        "-preset",
        str(st["preset"]),
        "-crf",
        str(st["crf"]),
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "high",
        "-g",
        str(gop),
    ]
    if st["threads"]:
        out += ["-threads", str(int(st["threads"]))]
    out += [
        "-c:a",
        "aac",
        "-b:a",
        str(st["audio_bitrate"]),
        "-ar",
        str(sr),
        "-ac",
        "2",
        "-max_muxing_queue_size",
        "1024",
    ]
    if st["faststart"]:
        out += ["-movflags", "+faststart"]
    out += ["-progress", "pipe:1", "-nostats", "-stats_period", "0.5", "-f", "mp4", str(out_path)]
    return [*_common_head(), "-loglevel", "warning", *args, *out]


def _is_silent(measured: dict) -> bool:
    try:
        return not math.isfinite(float(measured["input_i"])) or float(measured["input_i"]) < -69
    except (KeyError, TypeError, ValueError):
        return True


def build_loudness_command(
    source: str,
    clip: dict,
    *,
    music: str | None = None,
    meta: dict,
    settings: dict[str, Any] | None = None,
    music_meta: dict | None = None,
    plan: RenderPlan | None = None,
) -> list[str] | None:
    """Audio-only pass that prints loudnorm's measurement JSON on stderr.

    Runs the exact audio chain of the final render (same segments, same
    fades), so the linear gain of pass two is computed on what is encoded.
    Returns None when there is nothing to measure (silent output).
    """
    st = resolve_settings(settings)
    plan = plan or plan_render(clip, meta, st, music=bool(music), music_meta=music_meta)
    if plan.audio == "silent":
        return None
    lines: list[str] = []
    if plan.audio == "music":
        args: list[str] = []
        if plan.music_offset:
            args += ["-ss", _f(plan.music_offset)]
        args += ["-t", _f(plan.duration + 1.0), "-protocol_whitelist", "file", "-i", str(music)]
        alabel = _audio_chain(plan, st, [], 0, lines)
    else:
        args, lines, taps = _inputs_and_taps(plan, source, st, video=False, audio=True)
        alabel = _audio_chain(plan, st, taps, None, lines)
        n = len(plan.segments)
        if alabel is None:
            lines.append("".join(f"[a{k}]" for k in range(n)) + f"concat=n={n}:v=0:a=1[acat]")
            alabel = "acat"
    lines.append(f"[{alabel}]{_loudnorm(st, None, print_json=True)}[aout]")
    return [
        *_common_head(),
        "-loglevel",
        "info",
        "-nostats",
        *args,
        "-filter_complex",
        ";".join(lines),
        "-map",
        "[aout]",
        "-f",
        "null",
        "-",
    ]
