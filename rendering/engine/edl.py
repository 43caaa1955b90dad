"""EDL planning: validate and frame-quantise the clip's segments, choose crop windows and the audio mode.

See ``graph.py``'s docstring for the timing model that keeps audio and video in sync.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from suggestions.engine.contracts import ClipModelSpec
from video.analysis.contracts import FaceSample

from .errors import RenderError
from .reframe import RENDER_MODES, crop_geometry, crop_path_at, plan_segment_framing
from .settings import _rate_str, parse_rate, resolve_settings


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
    layout: str = "crop"  # "crop" (a window of the output aspect) | "fit" (whole frame over a blurred fill)
    framing: str = "center"  # what decided it: "faces" | "saliency" | "center" | "fit"
    framing_note: str = ""


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
    mode: str  # the renderer mode: auto | faces | center | fit (crop | letterbox: earlier spellings)
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
            crop = f" crop_x={s.crop_x} crop_y={s.crop_y} faces={s.face_samples}" if s.crop_x is not None else " fit"
            crop += f" [{s.framing_note}]" if s.framing_note else ""
            if s.crop_path:
                offs = [o for _, o in s.crop_path]
                crop += f" tracked {s.crop_axis} {min(offs)}..{max(offs)} ({len(offs)} knots)"
            lines.append(
                f"segment {s.index}: src {s.src_in:.3f}-{s.src_out:.3f} -> out {s.position:.3f}"
                f" ({s.frames} frames){crop}"
            )
        lines.extend(f"note: {n}" for n in self.notes)
        return lines


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


#: Shorter pieces of a shot are not split off: the layout of the surrounding piece holds.
MIN_LAYOUT_PIECE_S = 1.0


def _split_at_layout_changes(
    rows: list[tuple[Any, int, float, float]],
    *,
    faces: list[FaceSample] | None,
    saliency: Mapping[str, Any],
    st: Mapping[str, Any],
    src_w: int,
    src_h: int,
    crop_w: int,
    crop_h: int,
    fps: float,
    notes: list[str],
) -> list[tuple[Any, int, float, float]]:
    """Split an EDL entry that spans shot cuts where the shots want different layouts.

    A continuous 30-s highlight can hold a title card (fit), a moving subject (crop) and two
    people at the edges (fit): the layout is decided per shot, so the entry becomes contiguous
    pieces at the cuts where the decision changes (the audio runs on without a de-click there).
    Shots with the same layout stay one segment (the crop path already resets at cuts).
    """
    cuts = sorted(float(c) for c in saliency.get("cuts") or [])
    if not cuts:
        return rows
    out: list[tuple[Any, int, float, float]] = []
    for position, i, src_in, src_out in rows:
        kept: list[float] = []
        for c in cuts:
            if src_in + MIN_LAYOUT_PIECE_S <= c <= src_out - MIN_LAYOUT_PIECE_S and (
                not kept or c - kept[-1] >= MIN_LAYOUT_PIECE_S
            ):
                kept.append(c)
        if not kept:
            out.append((position, i, src_in, src_out))
            continue
        bounds = [src_in, *kept, src_out]
        layouts = [
            plan_segment_framing(
                a, b - a, mode=str(st["mode"]), faces=faces, saliency=saliency, src_w=src_w, src_h=src_h,
                crop_w=crop_w, crop_h=crop_h, fps=fps, st=st,
            ).layout
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]  # fmt: skip
        if len(set(layouts)) == 1:
            out.append((position, i, src_in, src_out))
            continue
        start = src_in
        for k in range(1, len(layouts)):
            if layouts[k] != layouts[k - 1]:
                out.append((None if position is None else float(position) + start - src_in, i, start, bounds[k]))
                start = bounds[k]
        out.append((None if position is None else float(position) + start - src_in, i, start, src_out))
        pieces = sum(1 for r in out if r[1] == i)
        notes.append(f"edl[{i}] split at {pieces - 1} shot cut(s) where the layout changes ({'/'.join(layouts)})")
    return out


def plan_render(
    clip: ClipModelSpec,
    meta: dict,
    settings: dict[str, Any] | None = None,
    *,
    faces: list[FaceSample] | None = None,
    saliency: Mapping[str, Any] | None = None,
    music: bool = False,
    music_meta: dict | None = None,
) -> RenderPlan:
    """Validate and quantise the EDL, frame each segment (crop window or fit), choose the audio mode.

    ``saliency``: the analysis' ``saliency`` block (``video.analysis.saliency``), used by ``auto``.
    """
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
    crop_w, crop_h = crop_geometry(src_w, src_h, int(st["width"]), int(st["height"]), sar)
    if saliency and RENDER_MODES.get(str(st["mode"]), "auto") == "auto":
        rows = _split_at_layout_changes(
            rows, faces=faces, saliency=saliency, st=st, src_w=src_w, src_h=src_h, crop_w=crop_w, crop_h=crop_h,
            fps=float(fps), notes=notes,
        )  # fmt: skip
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
        # a segment that continues the previous one in the source (same shot) starts where
        # the previous window ended: consecutive pieces of one shot do not jump
        start_offset = None
        if (
            prev_seg is not None
            and prev_seg.layout == "crop"
            and abs(prev_seg.src_out - src_in) <= frame
            and not any(prev_seg.src_in < float(c) <= src_in + frame for c in (saliency or {}).get("cuts") or [])
        ):
            if prev_seg.crop_path:
                start_offset = crop_path_at(prev_seg.crop_path, prev_seg.duration)
            elif prev_seg.crop_x is not None and prev_seg.crop_y is not None:
                start_offset = float(prev_seg.crop_x if crop_w < src_w else prev_seg.crop_y)
        fr = plan_segment_framing(
            src_in,
            duration,
            mode=str(st["mode"]),
            faces=faces,
            saliency=saliency,
            src_w=src_w,
            src_h=src_h,
            crop_w=crop_w,
            crop_h=crop_h,
            fps=float(fps),
            st=st,
            start_offset=start_offset,
        )
        crop_x, crop_y = fr.crop_x, fr.crop_y
        # Hysteresis: a still window that continues the previous segment in the source keeps
        # its position unless the subject really moved.
        if (
            fr.layout == "crop"
            and fr.path is None
            and prev_seg is not None
            and prev_seg.layout == "crop"
            and prev_seg.crop_path is None
            and prev_seg.crop_x is not None
            and crop_x is not None
            and crop_y is not None
            and abs(prev_seg.src_out - src_in) <= frame
            and abs(crop_x - prev_seg.crop_x) <= st["face_hold_fraction"] * src_w
            and abs(crop_y - (prev_seg.crop_y or 0)) <= st["face_hold_fraction"] * src_h
        ):
            crop_x, crop_y = prev_seg.crop_x, prev_seg.crop_y
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
            face_samples=fr.face_samples,
            requested_in=requested_in,
            crop_path=fr.path,
            crop_axis=fr.axis,
            layout=fr.layout,
            framing=fr.source,
            framing_note=fr.reason,
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
