"""Export a clip for editors: an OpenTimelineIO timeline (``.otio``) and a CMX 3600 EDL (``.edl``).

An editor who wants to finish a clip in their own tool (Resolve, Premiere, Avid, Final Cut via
OTIO) gets the cut, not the pixels: which spans of the source, in which order, and which part of
the track under them.  Both formats reference the media by **file name only** (the name the artist
uploaded; no storage URL, no signed link): the editor relinks to their own copy.

One neutral description, :class:`ExportTimeline`, is built from either

* a **clip model** (:func:`timeline_from_clip_model`): its EDL in seconds, quantised here with
  the renderer's rule (below), or
* a **rendered variant's plan** (:func:`timeline_from_plan`, ``RenderedVariant.plan`` =
  ``RenderPlan.to_dict()``): already frame-quantised by the renderer; taken as it is,

and written by :func:`to_otio` / :func:`otio_json` and :func:`to_cmx3600`.

Frame rounding (one rule, the renderer's with ``snap_to_source_frames``): a segment's source in
point is the nearest source frame, ``in = round(src_in x fps)``; its length comes from the
running output total, ``boundary_k = round((d_0 + … + d_k) x fps)`` with ``d = src_out − src_in``,
so ``frames_k = boundary_k − boundary_{k−1}``: rounding errors never accumulate along the cut,
every record in point is the previous record out point (no gap, no overlap), and a source out
point is ``in + frames_k``.  Each in/out point is therefore within half a frame of the EDL's
seconds (a length within one frame), and the exact seconds travel along in the OTIO clip's
``metadata["fala"]``.  The music is placed sample-exactly in OTIO (its range at 48 kHz) and to
the nearest frame in the EDL (which counts only frames; the exact offset is a comment line).

Timecodes are non-drop-frame at the nominal rate (``round(fps)`` frames a second: 30000/1001
counts as 30), sources start at ``00:00:00:00`` (the file's first frame) and the record side at
``01:00:00:00``, as NLEs expect.  Reel names are the file stem in 8 upper-case ASCII characters
(CMX's limit), the full file name is the ``* FROM CLIP NAME:`` comment and ``* FROM CLIP:``
(the path the OTIO ``cmx_3600`` adapter and most NLEs relink by).

This module is plain Python over ``opentimelineio`` (no Django): the API and the rendering app
hand it what they read.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

FORMATS: tuple[str, ...] = ("otio", "edl")
MEDIA_TYPES: dict[str, str] = {"otio": "application/json", "edl": "text/plain; charset=utf-8"}
#: OTIO places the music at this rate (samples), so its offset is exact to 1/48000 s.
AUDIO_RATE = 48000
RECORD_START_HOURS = 1
#: ``ExportTimeline.source_audio``: what plays under the cut.
AUDIO_KINDS = ("source", "music", "silent")


class ExportError(ValueError):
    """The clip cannot be written (an empty or invalid EDL, an unknown frame rate)."""


@dataclass(frozen=True)
class Media:
    """A file the timeline references: its name (no URL), and its length when known."""

    name: str
    duration: float | None = None


@dataclass(frozen=True)
class Cut:
    """One segment in frames: ``src_in`` at the source rate, ``frames`` and ``record_in`` at the record rate."""

    src_in: int
    frames: int
    record_in: int
    #: the seconds the frames came from (src_in, src_out, position)
    seconds: tuple[float, float, float]


@dataclass(frozen=True)
class MusicSpan:
    media: Media
    offset: float  # seconds into the track
    length: float  # seconds of music under the cut (from record 0)


@dataclass(frozen=True)
class ExportTimeline:
    name: str
    source: Media
    source_fps: Fraction
    record_fps: Fraction
    cuts: tuple[Cut, ...]
    audio: str  # "source" | "music" | "silent"
    music: MusicSpan | None = None
    #: caption sidecars: [{"format": "srt"|"vtt", "name": file name}]
    captions: tuple[Mapping[str, str], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_frames(self) -> int:
        return self.cuts[-1].record_in + self.cuts[-1].frames if self.cuts else 0


# --------------------------------------------------------------------------- building


def parse_rate(value: Any) -> Fraction:
    """``30``, ``29.97``, ``"30000/1001"``, ``Fraction`` → an exact rate (a float within 0.001 of
    an NTSC rate ``n x 1000/1001`` is that rate)."""
    try:
        if isinstance(value, Fraction):
            rate = value
        elif isinstance(value, str) and "/" in value:
            num, den = value.split("/", 1)
            rate = Fraction(int(num), int(den))
        else:
            rate = Fraction(str(float(value))).limit_denominator(1001)
            ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
            if rate.denominator != 1 and abs(rate - ntsc) < Fraction(1, 1000):
                rate = ntsc  # 29.97 / 59.94 as written: the NTSC rate they stand for
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise ExportError(f"invalid frame rate {value!r}") from exc
    if rate <= 0:
        raise ExportError(f"invalid frame rate {value!r}")
    return rate


def _frames(seconds: float, rate: Fraction) -> int:
    # Fraction(str()) keeps 12.5 * 24 = 300 exact where a float product could land on 299.999….
    return round(Fraction(repr(float(seconds))) * rate)


def quantise(edl: Sequence[Mapping[str, Any]], fps: Fraction) -> tuple[Cut, ...]:
    """A clip model's EDL (seconds) as frames, with the renderer's rule (see the module doc)."""
    rows = []
    for i, item in enumerate(edl):
        try:
            src_in, src_out = float(item["src_in"]), float(item["src_out"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"edl[{i}] needs numeric src_in and src_out") from exc
        if not (math.isfinite(src_in) and math.isfinite(src_out)) or src_in < 0 or src_out <= src_in:
            raise ExportError(f"edl[{i}] has src_in={src_in} src_out={src_out}")
        position = item.get("position")
        rows.append((float(position) if position is not None else None, i, src_in, src_out))
    if not rows:
        raise ExportError("the clip has an empty edl")
    if all(r[0] is not None for r in rows):
        rows.sort(key=lambda r: (r[0], r[1]))
    cuts: list[Cut] = []
    cum = Fraction(0)
    prev = 0
    for position, i, src_in, src_out in rows:
        cum += Fraction(repr(src_out)) - Fraction(repr(src_in))
        boundary = round(cum * fps)
        frames = boundary - prev
        if frames < 1:
            raise ExportError(f"edl[{i}] is shorter than one frame at {fps} fps")
        pos = position if position is not None else float(Fraction(prev) / fps)
        cuts.append(Cut(src_in=_frames(src_in, fps), frames=frames, record_in=prev, seconds=(src_in, src_out, pos)))
        prev = boundary
    return tuple(cuts)


def timeline_from_clip_model(
    clip: Mapping[str, Any],
    *,
    name: str,
    source: Media,
    fps: Any,
    has_audio: bool = True,
    music: Media | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ExportTimeline:
    """``clip``: a clip model's ``edl``, ``music_offset``, ``music_duration``, ``duration``.

    ``fps``: the source's frame rate (the analysis meta); the record side runs at it too.
    """
    rate = parse_rate(fps)
    cuts = quantise(clip.get("edl") or [], rate)
    span = None
    offset = clip.get("music_offset")
    if music is not None and offset is not None:
        total = float(Fraction(cuts[-1].record_in + cuts[-1].frames) / rate)
        length = clip.get("music_duration")
        length = min(float(length), total) if length else total
        span = _music_span(music, float(offset), length)
    audio = "music" if span is not None else ("source" if has_audio else "silent")
    return ExportTimeline(
        name=name,
        source=source,
        source_fps=rate,
        record_fps=rate,
        cuts=cuts,
        audio=audio,
        music=span,
        metadata=dict(metadata or {}),
    )


def timeline_from_plan(
    plan: Mapping[str, Any],
    *,
    name: str,
    source: Media,
    source_fps: Any = None,
    music: Media | None = None,
    captions: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ExportTimeline:
    """A rendered variant's frame-quantised plan, taken as it is.

    ``plan``: ``RenderPlan.to_dict()`` or the compact ``RenderedVariant.plan``
    (``rendering.services.compact_plan``: seconds rounded to the millisecond, no frame counts).
    Source in points are the plan's, which the renderer put on source frames
    (``round(src_in x source_fps)`` recovers the frame: a millisecond is under half a frame up to
    500 fps); lengths are the plan's output ``frames`` at its rate ``fps``, or
    ``round(duration x fps)`` (exact for the same reason).  ``source_fps``: the source's rate
    (the analysis meta) when the plan does not carry it.  ``captions``: ``RenderedVariant.captions``
    (its sidecar files are referenced by name).
    """
    segments = plan.get("segments") or []
    if not segments:
        raise ExportError("the plan has no segments")
    rec_rate = parse_rate(plan.get("fps") or plan.get("source_fps") or source_fps)
    src_rate = parse_rate(plan.get("source_fps") or source_fps or rec_rate)
    cuts = []
    record = 0
    for i, s in enumerate(segments):
        try:
            src_in = float(s["src_in"])
            frames = int(s["frames"]) if s.get("frames") is not None else _frames(float(s["duration"]), rec_rate)
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"plan segment {i} needs src_in and frames or duration") from exc
        if frames < 1:
            raise ExportError(f"plan segment {i} has {frames} frames")
        src_out = float(s.get("src_out") or src_in + frames / float(rec_rate))
        cuts.append(
            Cut(
                src_in=_frames(src_in, src_rate),
                frames=frames,
                record_in=record,
                seconds=(src_in, src_out, float(s.get("position") or record / float(rec_rate))),
            )
        )
        record += frames
    audio = str(plan.get("audio") or "silent")
    span = None
    if audio == "music" and music is not None:
        total = float(Fraction(record) / rec_rate)
        length = plan.get("music_length")
        span = _music_span(music, float(plan.get("music_offset") or 0.0), float(length) if length else total)
    return ExportTimeline(
        name=name,
        source=source,
        source_fps=src_rate,
        record_fps=rec_rate,
        cuts=tuple(cuts),
        audio=audio if audio in AUDIO_KINDS else "silent",
        music=span,
        captions=caption_sidecars(captions),
        metadata=dict(metadata or {}),
    )


def _music_span(music: Media, offset: float, length: float) -> MusicSpan:
    if offset < 0 or not math.isfinite(offset):
        raise ExportError(f"music_offset {offset} is invalid")
    if music.duration is not None:
        length = min(length, max(float(music.duration) - offset, 0.0))
    if length <= 0:
        raise ExportError(f"music_offset {offset} is past the end of the track")
    return MusicSpan(media=music, offset=offset, length=length)


def caption_sidecars(captions: Mapping[str, Any] | None) -> tuple[Mapping[str, str], ...]:
    """The sidecar files named in ``RenderedVariant.captions`` (``{"srt": name, "vtt": name}``,
    also under ``"sidecars"`` / ``"files"``), as ``({"format", "name"}, …)`` with names only."""
    if not captions:
        return ()
    found: dict[str, str] = {}
    for holder in (captions, captions.get("sidecars"), captions.get("files")):
        if not isinstance(holder, Mapping):
            continue
        for fmt in ("srt", "vtt"):
            value = holder.get(fmt)
            if isinstance(value, Mapping):
                value = value.get("name") or value.get("file") or value.get("path")
            if isinstance(value, str) and value and fmt not in found:
                found[fmt] = PurePosixPath(value).name
    return tuple({"format": fmt, "name": name} for fmt, name in sorted(found.items()))


# --------------------------------------------------------------------------- OpenTimelineIO


def _otio() -> Any:
    import opentimelineio

    return opentimelineio


def _rt(value: float | int, rate: Fraction) -> Any:
    return _otio().opentime.RationalTime(value, float(rate))


def _reference(media: Media, rate: Fraction) -> Any:
    otio = _otio()
    available = None
    if media.duration:
        available = otio.opentime.TimeRange(_rt(0, rate), _rt(_frames(media.duration, rate), rate))
    return otio.schema.ExternalReference(target_url=media.name, available_range=available)


def to_otio(tl: ExportTimeline) -> Any:
    """The timeline as an ``opentimelineio.schema.Timeline``.

    Tracks: ``V1`` (the cuts; ExternalReference to the source by name, source ranges at the
    source rate), then ``A1``: the music (one clip, its range at 48 kHz) or the source's sound
    under each cut (the same ranges), none when the clip is silent.
    """
    otio = _otio()
    src, rec = tl.source_fps, tl.record_fps
    timeline = otio.schema.Timeline(name=tl.name)
    timeline.global_start_time = _rt(RECORD_START_HOURS * 3600 * _nominal(rec), rec)
    timeline.metadata["fala"] = {
        **tl.metadata,
        "source_fps": f"{src.numerator}/{src.denominator}",
        "record_fps": f"{rec.numerator}/{rec.denominator}",
        "audio": tl.audio,
        "captions": [dict(c) for c in tl.captions],
        "frame_rounding": "in = round(src_in*fps); frames = round(cum_end*fps) - round(cum_start*fps)",
    }
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    sound = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    for k, cut in enumerate(tl.cuts):
        src_range = otio.opentime.TimeRange(_rt(cut.src_in, src), _rt(cut.frames, rec))
        meta = {"fala": {"segment": k, "src_in_s": cut.seconds[0], "src_out_s": cut.seconds[1]}}
        video.append(
            otio.schema.Clip(
                name=f"{tl.source.name} #{k + 1}",
                media_reference=_reference(tl.source, src),
                source_range=src_range,
                metadata=meta,
            )
        )
        if tl.audio == "source":
            sound.append(
                otio.schema.Clip(
                    name=f"{tl.source.name} #{k + 1}",
                    media_reference=_reference(tl.source, src),
                    source_range=src_range,
                    metadata=meta,
                )
            )
    timeline.tracks.append(video)
    if tl.music is not None:
        m = tl.music
        sound.append(
            otio.schema.Clip(
                name=m.media.name,
                media_reference=_reference(m.media, Fraction(AUDIO_RATE)),
                source_range=otio.opentime.TimeRange(
                    _rt(round(m.offset * AUDIO_RATE), Fraction(AUDIO_RATE)),
                    _rt(round(m.length * AUDIO_RATE), Fraction(AUDIO_RATE)),
                ),
                metadata={"fala": {"music_offset_s": m.offset, "music_length_s": m.length}},
            )
        )
    if len(sound):
        timeline.tracks.append(sound)
    return timeline


def otio_json(tl: ExportTimeline) -> str:
    return str(_otio().adapters.write_to_string(to_otio(tl), "otio_json"))


# --------------------------------------------------------------------------- CMX 3600


def _nominal(rate: Fraction) -> int:
    return max(round(rate), 1)


def timecode(frames: int, rate: Fraction) -> str:
    """Non-drop-frame ``HH:MM:SS:FF`` at the nominal rate (``round(rate)`` frames a second)."""
    if frames < 0:
        raise ExportError("negative timecode")
    fps = _nominal(rate)
    ff = frames % fps
    s = frames // fps
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{ff:02d}"


def reel_name(file_name: str, used: set[str] | None = None) -> str:
    """The file stem as a CMX reel: upper-case ASCII letters/digits, at most 8 (unique in ``used``)."""
    stem = PurePosixPath(file_name).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    reel = re.sub(r"[^A-Za-z0-9]", "", ascii_stem).upper()[:8] or "AX"
    if used is not None:
        base, n = reel, 1
        while reel in used:
            n += 1
            reel = f"{base[: 8 - len(str(n))]}{n}"
        used.add(reel)
    return reel


def _clean(text: str) -> str:
    """One line of a comment (no control characters)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def to_cmx3600(tl: ExportTimeline) -> str:
    """The timeline as a CMX 3600 EDL (one rate: the source's).

    Video events (``V``, or ``AA/V`` when the source's sound plays under the cut) in record
    order, then the music as one ``AA`` event from record start.  When the record rate differs
    from the source rate (a variant rendered at 30 fps from a 25-fps source), the cut is
    re-expressed at the source rate with the same rounding rule, since an EDL counts one rate.
    """
    rate = tl.source_fps
    if tl.record_fps == rate:
        cuts = [(c.src_in, c.frames) for c in tl.cuts]
    else:
        cuts = []
        prev = 0
        for c in tl.cuts:
            boundary = round(Fraction(c.record_in + c.frames) / tl.record_fps * rate)
            cuts.append((c.src_in, boundary - prev))
            prev = boundary
    start = RECORD_START_HOURS * 3600 * _nominal(rate)
    used: set[str] = set()
    src_reel = reel_name(tl.source.name, used)
    title = re.sub(r"[^\x20-\x7e]", "_", tl.name)[:70]
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME"]
    channel = "AA/V" if tl.audio == "source" else "V"
    record = start
    event = 0
    for (src_in, frames), cut in zip(cuts, tl.cuts, strict=True):
        if frames < 1:
            continue  # a one-frame cut lost to the rate change
        event += 1
        lines.append("")
        lines.append(
            f"{event:03d}  {src_reel:<8} {channel:<5} C        "
            f"{timecode(src_in, rate)} {timecode(src_in + frames, rate)} "
            f"{timecode(record, rate)} {timecode(record + frames, rate)}"
        )
        lines.append(f"* FROM CLIP NAME: {_clean(tl.source.name)}")
        lines.append(f"* FROM CLIP: {_clean(tl.source.name)}")
        lines.append(f"* SOURCE SECONDS: {cut.seconds[0]:.6f} {cut.seconds[1]:.6f}")
        if event == 1:
            # Comments belong to events in CMX 3600 (readers refuse them in the header): the
            # caption sidecars, which span the whole cut, ride on the first one.
            for sidecar in tl.captions:
                lines.append(f"* CAPTIONS {sidecar['format'].upper()}: {_clean(sidecar['name'])}")
        record += frames
    if event > 999:
        raise ExportError(f"{event} events: CMX 3600 holds at most 999")
    if tl.music is not None:
        m = tl.music
        m_in = _frames(m.offset, rate)
        m_len = max(_frames(m.length, rate), 1)
        event += 1
        lines.append("")
        lines.append(
            f"{event:03d}  {reel_name(m.media.name, used):<8} {'AA':<5} C        "
            f"{timecode(m_in, rate)} {timecode(m_in + m_len, rate)} "
            f"{timecode(start, rate)} {timecode(start + m_len, rate)}"
        )
        lines.append(f"* FROM CLIP NAME: {_clean(m.media.name)}")
        lines.append(f"* FROM CLIP: {_clean(m.media.name)}")
        lines.append(f"* MUSIC OFFSET SECONDS: {m.offset:.6f} LENGTH {m.length:.6f}")
    return "\n".join(lines) + "\n"


def render(tl: ExportTimeline, fmt: str) -> str:
    """The timeline in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "otio":
        return otio_json(tl)
    if fmt == "edl":
        return to_cmx3600(tl)
    raise ExportError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


def file_name(stem: str, fmt: str) -> str:
    """A safe download name: ASCII letters, digits, ``-``/``_``, and the format's extension."""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_stem).strip("_") or "clip"
    return f"{safe[:80]}.{fmt}"
