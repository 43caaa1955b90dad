"""The timeline picture of a video: why each clip was chosen, at a glance (Pillow, PNG).

Top part, on the source's time axis: the analysis curves (motion, audio energy, speech, faces,
novelty from ``VideoAnalysis.timeline``) one lane each, the shot cuts as ticks, and the spans
of every proposed clip drawn over all lanes in the clip's colour, with one lane per clip
(rank, template, score).  Bottom part, on the track's time axis (when the video has music):
the music energy curve, the beats (downbeats taller), the sections (the peak ones filled),
and per clip the stretch of the track it plays (``music_offset`` .. + duration).

Plain Python over the stored dicts (no Django): :func:`draw_timeline` takes what the admin
reads from the rows.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WIDTH = 1400
LEFT = 150  # label column
RIGHT = 20
LANE_H = 44
LANE_GAP = 6
CLIP_LANE_H = 18
BG = (255, 255, 255)
GRID = (225, 225, 225)
AXIS = (90, 90, 90)
TEXT = (30, 30, 30)
#: The video lanes: (timeline key, label, colour).
VIDEO_LANES = (
    ("motion", "motion", (220, 90, 30)),
    ("audio_energy", "audio energy", (40, 120, 200)),
    ("speech", "speech", (30, 150, 80)),
    ("faces", "faces", (170, 60, 170)),
    ("novelty", "novelty", (120, 100, 20)),
)
MUSIC_COLOUR = (200, 40, 90)
#: Clip colours by rank (cycled).
CLIP_COLOURS = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 190, 190),
    (128, 128, 0),
)


@dataclass
class ClipSpans:
    """One proposed clip as the picture needs it."""

    rank: int
    template: str
    score: float
    spans: list[tuple[float, float]]  # source (src_in, src_out) of each cut
    music_offset: float | None = None
    duration: float = 0.0


@dataclass
class TimelineInput:
    duration: float
    timeline: Mapping[str, Any]
    cuts: Sequence[float] = ()
    clips: list[ClipSpans] = field(default_factory=list)
    music_duration: float | None = None
    music_energy: Mapping[str, Any] | None = None  # {"hop_s", "values"}
    beats: Sequence[float] = ()
    downbeats: Sequence[float] = ()
    sections: Sequence[Mapping[str, Any]] = ()
    title: str = ""


def clip_colour(rank: int) -> tuple[int, int, int]:
    return CLIP_COLOURS[(max(rank, 1) - 1) % len(CLIP_COLOURS)]


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _nice_step(span: float, target_ticks: int = 12) -> float:
    raw = max(span, 1e-6) / target_ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def _fmt(t: float) -> str:
    m, s = divmod(t, 60)
    return f"{int(m)}:{int(round(s)):02d}" if t >= 60 else f"{t:g}s"


class _Axis:
    def __init__(self, duration: float, x0: int, x1: int):
        self.duration = max(duration, 1e-6)
        self.x0, self.x1 = x0, x1

    def x(self, t: float) -> float:
        return self.x0 + (self.x1 - self.x0) * min(max(t / self.duration, 0.0), 1.0)


def _curve(values: Sequence[float], hop: float) -> list[tuple[float, float]]:
    """(time, value 0..1) points; counts (faces) are scaled by their maximum."""
    vals = [float(v) if v is not None and math.isfinite(float(v)) else 0.0 for v in values]
    top = max(vals, default=0.0)
    scale = 1.0 / top if top > 1.0 else 1.0
    return [((i + 0.5) * hop, v * scale) for i, v in enumerate(vals)]


def _lane(
    draw: ImageDraw.ImageDraw,
    axis: _Axis,
    y: int,
    label: str,
    colour: tuple[int, int, int],
    points: list[tuple[float, float]],
) -> None:
    draw.rectangle((axis.x0, y, axis.x1, y + LANE_H), outline=GRID)
    draw.text((8, y + LANE_H // 2 - 7), label, fill=colour, font=_font(13))
    if not points:
        draw.text((axis.x0 + 6, y + LANE_H // 2 - 7), "(no data)", fill=AXIS, font=_font(12))
        return
    xy = [(axis.x(t), y + LANE_H - 2 - v * (LANE_H - 4)) for t, v in points]
    fill = [*xy, (xy[-1][0], y + LANE_H), (xy[0][0], y + LANE_H)]
    draw.polygon(fill, fill=(*colour, 70))  # translucent: the clip spans behind show through
    draw.line(xy, fill=colour, width=2)


def _ticks(draw: ImageDraw.ImageDraw, axis: _Axis, y: int, top: int) -> None:
    step = _nice_step(axis.duration)
    t = 0.0
    while t <= axis.duration + 1e-9:
        x = axis.x(t)
        draw.line((x, top, x, y), fill=GRID)
        draw.line((x, y, x, y + 4), fill=AXIS)
        draw.text((x - 10, y + 5), _fmt(round(t, 3)), fill=AXIS, font=_font(11))
        t += step


def draw_timeline(data: TimelineInput) -> Image.Image:
    """The picture (RGB)."""
    n_clips = len(data.clips)
    has_music = bool(data.music_duration)
    video_h = len(VIDEO_LANES) * (LANE_H + LANE_GAP) + 14 + n_clips * (CLIP_LANE_H + 3)
    music_h = (LANE_H + 22 + 16 + n_clips * (CLIP_LANE_H + 3) + 40) if has_music else 0
    height = 34 + video_h + 30 + music_h + 10
    img = Image.new("RGB", (WIDTH, height), BG)
    draw = ImageDraw.Draw(img, "RGBA")
    draw.text((8, 8), data.title or "timeline", fill=TEXT, font=_font(15))

    # -- the source
    axis = _Axis(data.duration, LEFT, WIDTH - RIGHT)
    top = 34
    y = top
    hop = float(data.timeline.get("hop_s") or 1.0)
    lanes_top = y
    lanes_bottom = y + len(VIDEO_LANES) * (LANE_H + LANE_GAP) - LANE_GAP
    for clip in data.clips:  # the clips' source spans behind the curves
        colour = clip_colour(clip.rank)
        for a, b in clip.spans:
            draw.rectangle((axis.x(a), lanes_top, max(axis.x(b), axis.x(a) + 1), lanes_bottom), fill=(*colour, 40))
    for key, label, colour in VIDEO_LANES:
        _lane(draw, axis, y, label, colour, _curve(data.timeline.get(key) or [], hop))
        y += LANE_H + LANE_GAP
    for t in data.cuts:  # shot cuts
        x = axis.x(float(t))
        draw.line((x, lanes_top, x, lanes_top + 6), fill=AXIS)
    y = lanes_bottom + 8
    for clip in data.clips:  # one lane per clip: its cuts
        colour = clip_colour(clip.rank)
        draw.text((8, y + 2), f"#{clip.rank} {clip.template} {clip.score:.2f}", fill=colour, font=_font(12))
        for a, b in clip.spans:
            draw.rectangle((axis.x(a), y, max(axis.x(b), axis.x(a) + 1), y + CLIP_LANE_H), fill=colour)
        y += CLIP_LANE_H + 3
    _ticks(draw, axis, y + 2, lanes_top)
    draw.text((8, y + 5), "source time", fill=AXIS, font=_font(11))
    y += 30

    # -- the track
    if has_music:
        assert data.music_duration is not None
        maxis = _Axis(float(data.music_duration), LEFT, WIDTH - RIGHT)
        draw.text((8, y), "music", fill=MUSIC_COLOUR, font=_font(13))
        y += 18
        sec_top = y
        for sec in data.sections:  # section blocks behind the energy lane
            a, b = float(sec.get("start", 0.0)), float(sec.get("end", 0.0))
            fill = (*MUSIC_COLOUR, 45) if sec.get("is_peak") else (0, 0, 0, 12)
            draw.rectangle((maxis.x(a), sec_top, maxis.x(b), sec_top + LANE_H), fill=fill, outline=GRID)
        energy = data.music_energy or {}
        _lane(
            draw,
            maxis,
            sec_top,
            "energy",
            MUSIC_COLOUR,
            _curve(energy.get("values") or [], float(energy.get("hop_s") or 0.05)),
        )
        for sec in data.sections:
            draw.text(
                (maxis.x(float(sec.get("start", 0.0))) + 3, sec_top + 2),
                str(sec.get("label", "")),
                fill=AXIS,
                font=_font(11),
            )
        y = sec_top + LANE_H + 2
        downs = {round(float(d), 3) for d in data.downbeats}
        for b in data.beats:  # beats under the energy lane, downbeats taller
            x = maxis.x(float(b))
            h = 14 if round(float(b), 3) in downs else 7
            draw.line((x, y, x, y + h), fill=(60, 60, 60), width=1)
        draw.text((8, y), "beats", fill=AXIS, font=_font(11))
        y += 20
        for clip in data.clips:
            if clip.music_offset is None:
                continue
            colour = clip_colour(clip.rank)
            a, b = float(clip.music_offset), float(clip.music_offset) + float(clip.duration)
            draw.text((8, y + 2), f"#{clip.rank} plays", fill=colour, font=_font(12))
            draw.rectangle((maxis.x(a), y, max(maxis.x(b), maxis.x(a) + 1), y + CLIP_LANE_H), fill=colour)
            y += CLIP_LANE_H + 3
        _ticks(draw, maxis, y + 2, sec_top)
        draw.text((8, y + 5), "track time", fill=AXIS, font=_font(11))
        y += 30
    return img.crop((0, 0, WIDTH, min(height, y + 4)))


def timeline_png(data: TimelineInput) -> bytes:
    buf = io.BytesIO()
    draw_timeline(data).save(buf, "PNG")
    return buf.getvalue()
