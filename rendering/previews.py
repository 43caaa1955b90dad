"""Cheap previews of a proposed clip model, made before its full render.

* a **contact sheet**: one frame per cut of the clip's EDL (a keyframe inside
  the cut when there is one, else a frame just after its start), scaled
  down, in a JPEG grid labelled with the cut number, its source time and its
  place in the clip; the output window of a crop layout is outlined on each
  frame;
* a **preview video**: the clip's first :data:`PREVIEW_SECONDS` seconds at a
  low resolution (270x480 for 9:16), rendered by the real engine
  (:func:`rendering.engine.render_variant`: same cuts, crop windows and audio
  or music as the full render) with ``ultrafast`` x264, a high CRF, 64 kb/s
  audio, no loudness pass and no verification pass.

The sheet's frames come from one PyAV decoder opened once per clip (the
container index parsed once; demuxing finds the keyframes, a seek per cut
decodes a frame or a few, single-threaded, the H.264 loop filter skipped);
a rotated source goes through ffmpeg instead (a seeking input per cut,
auto-rotated).  The grid and the labels are drawn with Pillow.  The sheet is
made in a thread while ffmpeg makes the preview video (each leaves part of
the other core idle).

The Django side stores both files in storage and records them in
:class:`rendering.models.ClipPreview`.  Where the preview video comes from is the
``PREVIEW_VIDEO`` setting:

* ``render`` (default): the contact sheets are made right after the suggestions are saved
  (:func:`clip_previews_build_all` with ``video=False``, the clips' sheets in parallel threads),
  and each clip's preview video is a second output of that clip's full render
  (:func:`preview_output_for`, :class:`rendering.engine.PreviewOutput`, stored by
  :func:`clip_preview_attach_video`): the source is decoded once for both.  The video then
  arrives with its clip's render instead of before the first one; the previews no longer cost
  the job ~1 s a clip (W5);
* ``ahead``: both are made right after the suggestions, before the full renders
  (:func:`make_previews`: the preview video is its own low-resolution render of the clip's first
  seconds, no loudness pass, no captions).

A clip whose render did not make its preview video (a variant rendered before a retry, a
store that failed) gets one the ``ahead`` way after the renders
(:func:`clip_previews_missing_video`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from rendering.engine import DEFAULT_SETTINGS, RenderError, plan_render, render_variant
from rendering.engine._proc import run_ffmpeg
from rendering.engine.reframe import Reframe, crop_path_at

log = logging.getLogger(__name__)

#: Length of the preview video (s).
PREVIEW_SECONDS = 6.0
#: Preview frame sizes per output aspect (even, a quarter of the full render's width).
PREVIEW_SIZES = {"9:16": (270, 480), "1:1": (270, 270), "4:5": (272, 340)}
#: Contact sheet: tile width (px), columns at most, frames at most (cuts beyond are sampled evenly).
SHEET_TILE_WIDTH = 256
SHEET_COLUMNS = 6
SHEET_MAX_FRAMES = 60
#: Frames decoded per ffmpeg run (each cut is one seeking input).
_BATCH = 12
_LABEL_H = 18
_PAD = 4
_CROP_OUTLINE = (255, 214, 0)
#: A keyframe this close to a cut's ends is not used (the frame would sit on the cut).
_KEY_MARGIN_S = 0.15
#: The preview never ends on a piece shorter than this (s): it stops at the cut before.
_MIN_PIECE_S = 0.2
#: Without a keyframe inside the cut: its frame this long after the cut's start.
_EARLY_S = 0.12

#: The preview's render settings (overlaid on the engine's defaults; width/height/mode per clip).
PREVIEW_RENDER_SETTINGS: dict[str, Any] = {
    "fps": 30,
    "preset": "ultrafast",
    "crf": 32,
    "audio_bitrate": "64k",
    "loudnorm": False,
    "verify": False,
    "faststart": True,
    "scale_flags": "fast_bilinear",
    # no deblocking of the 1080p source for a 270x480 picture: ~10 % of the decode
    "decode_skip_loop_filter": True,
}


@dataclass
class SheetFrame:
    """One tile of the contact sheet."""

    cut: int  # 1-based index of the cut in output order
    time: float  # source time of the frame (s)
    position: float  # where the cut starts in the clip (s)
    src_in: float
    src_out: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "cut": self.cut,
            "time": round(self.time, 3),
            "position": round(self.position, 3),
            "src_in": round(self.src_in, 3),
            "src_out": round(self.src_out, 3),
        }


@dataclass
class PreviewFiles:
    """What :func:`make_previews` wrote."""

    contact_sheet: Path
    video: Path
    frames: list[SheetFrame]
    sheet_size: tuple[int, int]
    video_duration: float
    timings: dict[str, float] = field(default_factory=dict)


def _fmt_time(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m)}:{s:04.1f}"


def _ordered_cuts(clip: dict[str, Any]) -> list[tuple[float, float, float]]:
    """``(position, src_in, src_out)`` of each cut, in output order (positions recomputed when absent)."""
    rows = []
    for i, item in enumerate(clip.get("edl") or []):
        src_in, src_out = float(item["src_in"]), float(item["src_out"])
        if src_out <= src_in:
            raise RenderError("invalid_edl", f"edl[{i}] has src_in={src_in} src_out={src_out}")
        rows.append((item.get("position"), i, src_in, src_out))
    if rows and all(r[0] is not None for r in rows):
        rows.sort(key=lambda r: (float(r[0]), r[1]))
    out, cum = [], 0.0
    for _, _, src_in, src_out in rows:
        out.append((cum, src_in, src_out))
        cum += src_out - src_in
    return out


def pick_time(src_in: float, src_out: float, key_before: Callable[[float], float | None] | None = None) -> float:
    """The source time of a cut's contact-sheet frame.

    A keyframe inside the cut (a seek there decodes one frame): the one at or before the
    cut's middle, else the one at or before its end; ``key_before(t)`` tells the keyframe
    at or before ``t``.  Without one: :data:`_EARLY_S` after the cut's start (the fewest
    frames to decode from the keyframe before the cut).
    """
    dur = src_out - src_in
    margin = min(_KEY_MARGIN_S, dur / 4)
    mid = (src_in + src_out) / 2
    if key_before is not None:
        k = key_before(mid)
        if k is not None and src_in + margin <= k <= mid:
            return k
        k = key_before(src_out - margin)
        if k is not None and mid < k <= src_out - margin:
            return k
    return src_in + min(_EARLY_S, dur / 4)


def sheet_frames(
    clip: dict[str, Any],
    max_frames: int = SHEET_MAX_FRAMES,
    key_before: Callable[[float], float | None] | None = None,
) -> list[SheetFrame]:
    """The contact sheet's frames, one per cut (at most ``max_frames``, spread evenly); see :func:`pick_time`."""
    cuts = _ordered_cuts(clip)
    if not cuts:
        raise RenderError("invalid_edl", "clip has an empty edl")
    picks = range(len(cuts))
    if len(cuts) > max_frames:
        picks = sorted({round(i * (len(cuts) - 1) / (max_frames - 1)) for i in range(max_frames)})  # type: ignore[assignment]
    frames = []
    for k in picks:
        position, src_in, src_out = cuts[k]
        t = pick_time(src_in, src_out, key_before)
        frames.append(SheetFrame(cut=k + 1, time=t, position=position, src_in=src_in, src_out=src_out))
    return frames


class _Decoder:
    """One open source (PyAV): keyframe look-ups by demuxing, and single frames by seeking.

    The container is opened once for all the cuts (one index parse, one decoder), single
    threaded (a frame-threaded decoder holds frames back), the H.264 loop filter skipped.
    """

    def __init__(self, source: str):
        import av

        self.container = av.open(source)
        self.stream = self.container.streams.video[0]
        self.stream.thread_count = 1
        self.stream.codec_context.options = {"skip_loop_filter": "all"}
        if self.stream.time_base is None:
            raise RenderError("preview_failed", "the video stream has no time base")
        self.tb = float(self.stream.time_base)
        self.start = float(self.stream.start_time or 0) * self.tb
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.half_frame = 0.5 / float(rate) if rate else 0.02

    def close(self) -> None:
        self.container.close()

    def _seek(self, t: float) -> None:
        self.container.seek(int((t + self.start) / self.tb), stream=self.stream, backward=True, any_frame=False)
        self.stream.codec_context.flush_buffers()

    def key_before(self, t: float) -> float | None:
        self._seek(max(t, 0.0))
        for packet in self.container.demux(self.stream):
            if packet.pts is not None:
                return float(packet.pts) * self.tb - self.start
        return None

    def frame_at(self, t: float, width: int, height: int, *, max_frames: int = 900) -> tuple[Image.Image, float]:
        """The first frame at or after ``t`` (s from the start), scaled; and its time."""
        self._seek(max(t, 0.0))
        last = None
        for n, frame in enumerate(self.container.decode(self.stream)):
            if frame.time is None:
                continue
            ft = float(frame.time) - self.start
            last = (frame, ft)
            if ft >= t - self.half_frame or n >= max_frames:
                break
        if last is None:
            raise RenderError("preview_failed", f"no frame decoded at {t:.3f}s")
        frame, ft = last
        return frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR").to_image(), ft


def grab_frames(
    source: str, clip: dict[str, Any], *, width: int, height: int, max_frames: int = SHEET_MAX_FRAMES
) -> tuple[list[SheetFrame], list[Image.Image]]:
    """The contact sheet's frames of ``clip`` decoded from ``source`` (PyAV, one open container)."""
    import av

    try:
        dec = _Decoder(source)
    except (av.error.FFmpegError, IndexError) as exc:
        raise RenderError("preview_failed", f"cannot open the source: {exc}") from exc
    try:
        frames = sheet_frames(clip, max_frames, key_before=dec.key_before)
        images = []
        for f in frames:
            img, f.time = dec.frame_at(f.time, width, height)
            images.append(img)
        return frames, images
    except av.error.FFmpegError as exc:
        raise RenderError("preview_failed", f"decoding the contact sheet's frames failed: {exc}") from exc
    finally:
        dec.close()


def _source_dims(meta: dict[str, Any]) -> tuple[int, int]:
    w, h = int(meta["width"]), int(meta["height"])
    if abs(int(meta.get("rotation") or 0)) % 180 == 90:
        w, h = h, w
    return w, h


def extract_frames(
    source: str, times: list[float], *, width: int, height: int, timeout: float = 120.0
) -> list[Image.Image]:
    """One RGB frame of ``width`` x ``height`` at each source time (ffmpeg: a seeking input per
    time, 12 per run, the loop filter skipped; auto-rotated)."""
    images: list[Image.Image] = []
    frame_bytes = width * height * 3
    for start in range(0, len(times), _BATCH):
        batch = times[start : start + _BATCH]
        args = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        for t in batch:
            # -t: the input stops after a frame or two (the others do not decode ahead)
            args += ["-skip_loop_filter", "all", "-threads", "2", "-ss", f"{max(t, 0.0):.3f}", "-t", "0.1"]
            args += ["-an", "-sn", "-dn", "-i", source]
        chains = [
            f"[{i}:v:0]trim=end_frame=1,scale={width}:{height}:flags=bilinear,setsar=1,format=rgb24[f{i}]"
            for i in range(len(batch))
        ]
        joined = "".join(f"[f{i}]" for i in range(len(batch)))
        chains.append(f"{joined}concat=n={len(batch)}:v=1:a=0[out]")
        args += ["-filter_complex", ";".join(chains), "-map", "[out]", "-fps_mode", "passthrough"]
        args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        proc = run_ffmpeg(args, timeout=timeout, code="preview_failed", what="contact sheet frames")
        data = bytes(proc.stdout)
        got = len(data) // frame_bytes
        if got < len(batch):
            raise RenderError(
                "preview_failed",
                f"contact sheet: {got} of {len(batch)} frames decoded (times {batch})",
            )
        images += [
            Image.frombytes("RGB", (width, height), data[i * frame_bytes : (i + 1) * frame_bytes])
            for i in range(len(batch))
        ]
    return images


def _crop_box(plan: Any, frame: SheetFrame, scale: float) -> tuple[int, int, int, int] | None:
    """The output window of the cut holding ``frame`` (tile pixels), when the layout crops."""
    if plan is None or getattr(plan, "crop_w", None) is None or getattr(plan, "crop_h", None) is None:
        return None
    seg = plan.segments[frame.cut - 1] if frame.cut - 1 < len(plan.segments) else None
    if seg is None or seg.crop_x is None or seg.crop_y is None or getattr(seg, "layout", "crop") != "crop":
        return None
    x, y = float(seg.crop_x), float(seg.crop_y)
    path = getattr(seg, "crop_path", None)
    if path:
        off = float(crop_path_at(path, frame.time - seg.src_in))
        x, y = (off, y) if seg.crop_axis == "x" else (x, off)
    return (
        round(x * scale),
        round(y * scale),
        round((x + plan.crop_w) * scale) - 1,
        round((y + plan.crop_h) * scale) - 1,
    )


def draw_contact_sheet(
    images: list[Image.Image], frames: list[SheetFrame], *, plan: Any = None, source_width: int | None = None
) -> Image.Image:
    """The grid: each frame with a label (cut, source time → place in the clip) and its crop window."""
    tile_w, tile_h = images[0].size
    cols = min(SHEET_COLUMNS, len(images))
    rows = math.ceil(len(images) / cols)
    cell_w, cell_h = tile_w + _PAD, tile_h + _LABEL_H + _PAD
    sheet = Image.new("RGB", (cols * cell_w + _PAD, rows * cell_h + _PAD), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    scale = tile_w / float(source_width) if source_width else 0.0
    for n, (img, fr) in enumerate(zip(images, frames, strict=True)):
        x0 = _PAD + (n % cols) * cell_w
        y0 = _PAD + (n // cols) * cell_h
        sheet.paste(img, (x0, y0))
        box = _crop_box(plan, fr, scale) if scale else None
        if box is not None:
            draw.rectangle((x0 + box[0], y0 + box[1], x0 + box[2], y0 + box[3]), outline=_CROP_OUTLINE, width=2)
        label = f"#{fr.cut}  {_fmt_time(fr.time)}  @{fr.position:.1f}s"
        seg = plan.segments[fr.cut - 1] if plan is not None and fr.cut - 1 < len(plan.segments) else None
        if getattr(seg, "layout", "crop") == "fit":
            label += "  fit"  # the whole frame over a blurred fill
        draw.text((x0 + 2, y0 + tile_h + 2), label, fill=(235, 235, 235), font=font)
    return sheet


def make_contact_sheet(
    source: str,
    clip: dict[str, Any],
    out_path: Path,
    *,
    meta: dict[str, Any],
    plan: Any = None,
    tile_width: int = SHEET_TILE_WIDTH,
    use_ffmpeg: bool = False,
) -> tuple[list[SheetFrame], tuple[int, int]]:
    """Write the contact sheet JPEG; returns its frames and its size.

    Frames come from one PyAV decoder (keyframe look-ups, a seek per cut); a rotated
    source (or ``use_ffmpeg``) goes through one ffmpeg run per 12 cuts instead.
    """
    src_w, src_h = _source_dims(meta)
    tile_h = max(2, round(tile_width * src_h / src_w / 2) * 2)
    if int(meta.get("rotation") or 0) % 360 == 0 and not use_ffmpeg:
        frames, images = grab_frames(source, clip, width=tile_width, height=tile_h)
    else:  # rotated sources: ffmpeg turns them upright on decode
        frames = sheet_frames(clip)
        images = extract_frames(source, [f.time for f in frames], width=tile_width, height=tile_h)
    sheet = draw_contact_sheet(images, frames, plan=plan, source_width=src_w)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path, "JPEG", quality=80, optimize=True)
    return frames, sheet.size


def truncate_clip(clip: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The clip's first ``seconds``: the cuts that start before, the last one shortened."""
    edl: list[dict[str, float]] = []
    for position, src_in, src_out in _ordered_cuts(clip):
        if position >= seconds - _MIN_PIECE_S and edl:
            break  # nothing left, or a sliver shorter than a few frames: the preview ends with the cut before
        dur = min(src_out - src_in, max(seconds - position, _MIN_PIECE_S))
        edl.append({"src_in": src_in, "src_out": src_in + dur, "position": position, "duration": dur})
    out = {**clip, "edl": edl, "duration": sum(e["duration"] for e in edl)}
    if clip.get("music_duration") is not None:
        out["music_duration"] = min(float(clip["music_duration"]), out["duration"])
    return out


def make_preview_video(
    source: str,
    clip: dict[str, Any],
    out_path: Path,
    *,
    meta: dict[str, Any],
    aspect: str = "9:16",
    reframe: Reframe | None = None,
    faces: list[Any] | None = None,
    saliency: dict[str, Any] | None = None,
    music: str | None = None,
    music_meta: dict[str, Any] | None = None,
    seconds: float = PREVIEW_SECONDS,
    timeout: float = 120.0,
) -> Any:
    """Render the clip's first ``seconds`` at low resolution with the real engine; returns its RenderResult."""
    width, height = PREVIEW_SIZES.get(aspect, PREVIEW_SIZES["9:16"])
    st = {
        **PREVIEW_RENDER_SETTINGS,
        "width": width,
        "height": height,
        "mode": reframe.render_mode if reframe is not None else DEFAULT_SETTINGS["mode"],
        "timeout_s": timeout,
    }
    return render_variant(
        source,
        truncate_clip(clip, seconds),  # type: ignore[arg-type]
        str(out_path),
        meta=meta,
        music=music,
        music_meta=music_meta,
        faces=faces,
        saliency=saliency,
        settings=st,
    )


def _sheet_plan(
    clip: dict[str, Any],
    meta: dict[str, Any],
    *,
    aspect: str,
    reframe: Reframe | None,
    faces: list[Any] | None,
    saliency: dict[str, Any] | None,
) -> Any:
    """The crop windows the full render will use (pure Python, milliseconds), or None."""
    width, height = PREVIEW_SIZES.get(aspect, PREVIEW_SIZES["9:16"])
    mode = reframe.render_mode if reframe is not None else DEFAULT_SETTINGS["mode"]
    try:
        return plan_render(
            clip,  # type: ignore[arg-type]
            meta,
            {"width": width, "height": height, "mode": mode},
            faces=faces,
            saliency=saliency,
        )
    except RenderError as exc:
        log.info("contact sheet without crop windows: %s", exc)
        return None


def make_sheet(
    source: str,
    clip: dict[str, Any],
    out_dir: Path,
    *,
    meta: dict[str, Any],
    stem: str = "preview",
    aspect: str = "9:16",
    reframe: Reframe | None = None,
    faces: list[Any] | None = None,
    saliency: dict[str, Any] | None = None,
) -> tuple[Path, list[SheetFrame], tuple[int, int], dict[str, float]]:
    """The contact sheet alone: ``(path, frames, size, timings)``."""
    t0 = time.perf_counter()
    plan = _sheet_plan(clip, meta, aspect=aspect, reframe=reframe, faces=faces, saliency=saliency)
    path = out_dir / f"{stem}-sheet.jpg"
    frames, size = make_contact_sheet(source, clip, path, meta=meta, plan=plan)
    seconds = round(time.perf_counter() - t0, 3)
    return path, frames, size, {"contact_sheet": seconds, "total": seconds}


def make_previews(
    source: str,
    clip: dict[str, Any],
    out_dir: Path,
    *,
    meta: dict[str, Any],
    stem: str = "preview",
    aspect: str = "9:16",
    reframe: Reframe | None = None,
    faces: list[Any] | None = None,
    saliency: dict[str, Any] | None = None,
    music: str | None = None,
    music_meta: dict[str, Any] | None = None,
) -> PreviewFiles:
    """Contact sheet + preview video of one clip into ``out_dir``."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    plan = _sheet_plan(clip, meta, aspect=aspect, reframe=reframe, faces=faces, saliency=saliency)
    sheet_path = out_dir / f"{stem}-sheet.jpg"

    def sheet() -> tuple[list[SheetFrame], tuple[int, int]]:
        t = time.perf_counter()
        try:
            return make_contact_sheet(source, clip, sheet_path, meta=meta, plan=plan)
        finally:
            timings["contact_sheet"] = round(time.perf_counter() - t, 3)

    # The sheet (one single-threaded decoder in this process) is made while ffmpeg makes the
    # video: ffmpeg's decoder leaves part of the second core idle (W5: the montage's 0.4-0.6 s sheet is
    # hidden, the three previews 3.8-4.1 -> 3.6-3.7 s).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-sheet") as pool:
        sheet_future = pool.submit(sheet)
        t1 = time.perf_counter()
        video_path = out_dir / f"{stem}.mp4"
        try:
            result = make_preview_video(
                source,
                clip,
                video_path,
                meta=meta,
                aspect=aspect,
                reframe=reframe,
                faces=faces,
                saliency=saliency,
                music=music,
                music_meta=music_meta,
            )
        finally:
            timings["video"] = round(time.perf_counter() - t1, 3)
        frames, size = sheet_future.result()
    timings["total"] = round(time.perf_counter() - t0, 3)
    return PreviewFiles(
        contact_sheet=sheet_path,
        video=video_path,
        frames=frames,
        sheet_size=size,
        video_duration=float(result.duration),
        timings=timings,
    )


# --------------------------------------------------------------------------- Django side


def preview_storage_keys(clip_model: Any) -> tuple[str, str]:
    """Storage names (before the backend's collision renaming) of a clip model's sheet and video."""
    from fala_clip.storage import storage_key

    base = ("previews", clip_model.ingest.owner_id, clip_model.ingest_id, f"clip-{clip_model.pk}")
    return storage_key(*base, "contact-sheet.jpg"), storage_key(*base, "preview.mp4")


def clip_preview_build(
    *,
    clip_model: Any,
    analysis: Any,
    source_path: Path,
    out_dir: Path,
    options: dict[str, Any] | None = None,
    music_path: str | None = None,
    music_meta: dict[str, Any] | None = None,
) -> Any:
    """Make, store and record the previews of one clip model; returns its ClipPreview.

    A clip model that already has a preview gets a new one (the old files are deleted
    from storage once the row points at the new ones).
    """
    from fala_clip.storage import delete_stored, store_file
    from rendering.engine.reframe import reframe_for_clip
    from rendering.models import ClipPreview

    options = options or {}
    reframe = reframe_for_clip(options.get("reframe"), clip_model.params)
    files = make_previews(
        str(source_path),
        clip_model.as_engine_clip(),
        out_dir,
        meta=analysis.meta,
        stem=f"clip-{clip_model.pk}",
        aspect=options.get("aspect", "9:16"),
        reframe=reframe,
        faces=reframe.faces(analysis.faces),
        saliency=reframe.saliency(analysis.saliency),  # type: ignore[arg-type]
        music=music_path,
        music_meta=music_meta,
    )
    sheet_key, video_key = preview_storage_keys(clip_model)
    t0 = time.perf_counter()
    sheet_name = store_file(files.contact_sheet, sheet_key)
    try:
        video_name = store_file(files.video, video_key)
    except Exception:
        delete_stored(sheet_name)
        raise
    timings = {**files.timings, "store": round(time.perf_counter() - t0, 3)}
    old = ClipPreview.objects.filter(clip_model=clip_model).first()
    try:
        preview, _ = ClipPreview.objects.update_or_create(
            clip_model=clip_model,
            defaults={
                "contact_sheet": sheet_name,
                "video": video_name,
                "frames": [f.as_dict() for f in files.frames],
                "timings": {
                    **timings,
                    "video_duration": round(files.video_duration, 3),
                    "sheet_size": list(files.sheet_size),
                },
            },
        )
    except Exception:
        delete_stored(sheet_name)
        delete_stored(video_name)
        raise
    if old is not None:
        for name in {old.contact_sheet, old.video} - {sheet_name, video_name}:
            delete_stored(name)
    for path in (files.contact_sheet, files.video):
        path.unlink(missing_ok=True)
    return preview


def preview_video_mode() -> str:
    """``render`` (the preview video is a second output of each clip's render) or ``ahead``."""
    from django.conf import settings

    return str(getattr(settings, "PREVIEW_VIDEO", "render"))


def _complete(preview: Any, video: bool) -> bool:
    return bool(preview.contact_sheet) and (bool(preview.video) or not video)


def clip_sheet_build(
    *, clip_model: Any, analysis: Any, files: tuple[Path, list[SheetFrame], tuple[int, int], dict[str, float]]
) -> Any:
    """Store and record a contact sheet made by :func:`make_sheet`; keeps the row's preview video."""
    from fala_clip.storage import delete_stored, store_file
    from rendering.models import ClipPreview

    path, frames, size, sheet_timings = files
    t0 = time.perf_counter()
    sheet_name = store_file(path, preview_storage_keys(clip_model)[0])
    timings: dict[str, Any] = {
        **sheet_timings,
        "store": round(time.perf_counter() - t0, 3),
        "sheet_size": list(size),
    }
    old = ClipPreview.objects.filter(clip_model=clip_model).first()
    try:
        preview, _ = ClipPreview.objects.update_or_create(
            clip_model=clip_model,
            defaults={
                "contact_sheet": sheet_name,
                "frames": [f.as_dict() for f in frames],
                "timings": {**((old.timings or {}) if old is not None else {}), **timings},
            },
        )
    except Exception:
        delete_stored(sheet_name)
        raise
    if old is not None and old.contact_sheet and old.contact_sheet != sheet_name:
        delete_stored(old.contact_sheet)
    path.unlink(missing_ok=True)
    return preview


def preview_output_for(*, clip_model: Any, options: dict[str, Any] | None, out_dir: Path) -> Any:
    """The :class:`rendering.engine.PreviewOutput` the clip's render should also write, or None.

    None with ``PREVIEW_VIDEO=ahead`` and when the clip model already has a preview video.
    """
    from rendering.engine import PreviewOutput
    from rendering.models import ClipPreview

    if preview_video_mode() != "render":
        return None
    if ClipPreview.objects.filter(clip_model=clip_model).exclude(video="").exists():
        return None
    width, height = PREVIEW_SIZES.get((options or {}).get("aspect", "9:16"), PREVIEW_SIZES["9:16"])
    return PreviewOutput(
        path=str(out_dir / f"clip-{clip_model.pk}-preview.mp4"),
        width=width,
        height=height,
        seconds=PREVIEW_SECONDS,
        preset=str(PREVIEW_RENDER_SETTINGS["preset"]),
        crf=int(PREVIEW_RENDER_SETTINGS["crf"]),
        audio_bitrate=str(PREVIEW_RENDER_SETTINGS["audio_bitrate"]),
        min_piece_s=_MIN_PIECE_S,
    )


def clip_preview_attach_video(*, clip_model: Any, info: dict[str, Any]) -> Any:
    """Store the preview video a render wrote (``RenderResult.preview``) and record it on the clip's row.

    The file is removed from the workspace either way.
    """
    from fala_clip.storage import delete_stored, store_file
    from rendering.models import ClipPreview

    path = Path(info["path"])
    try:
        t0 = time.perf_counter()
        video_name = store_file(path, preview_storage_keys(clip_model)[1])
        store_s = round(time.perf_counter() - t0, 3)
        old = ClipPreview.objects.filter(clip_model=clip_model).first()
        timings = {
            **((old.timings or {}) if old is not None else {}),
            "video_from": "render",
            "video_store": store_s,
            "video_duration": round(float(info["duration"]), 3),
        }
        timings.pop("video", None)  # a separate run's time: none here (the render made it)
        try:
            preview, _ = ClipPreview.objects.update_or_create(
                clip_model=clip_model, defaults={"video": video_name, "timings": timings}
            )
        except Exception:
            delete_stored(video_name)
            raise
        if old is not None and old.video and old.video != video_name:
            delete_stored(old.video)
        return preview
    finally:
        path.unlink(missing_ok=True)


def clip_previews_missing_video(clip_models: list[Any]) -> list[Any]:
    """The clip models whose preview has no video yet (or that have no preview row)."""
    from rendering.models import ClipPreview

    have = set(
        ClipPreview.objects.filter(clip_model__in=clip_models)
        .exclude(video="")
        .exclude(contact_sheet="")
        .values_list("clip_model_id", flat=True)
    )
    return [cm for cm in clip_models if cm.pk not in have]


def clip_previews_build_all(
    *,
    ctx: Any,
    ingest: Any,
    analysis: Any,
    clip_models: list[Any],
    source_path: Path,
    workspace: Any,
    video: bool = True,
) -> dict[str, Any]:
    """Previews of every clip model of a job, in rank order; never raises for one clip's failure.

    ``video``: the contact sheet and the preview video (:func:`make_previews`); without it the
    contact sheets alone, made in parallel threads (``PREVIEW_VIDEO=render``: the videos come
    with the renders).  Clip models that already have what is asked for (a retried job) are
    skipped.  Each failure is logged on the job (``previews``); the summary says what was made,
    skipped and failed.
    """
    from fala_clip.storage import local_copy
    from jobs.services import job_record_stage_timing
    from rendering.engine.reframe import reframe_for_clip
    from rendering.models import ClipPreview

    done = {p.clip_model_id for p in ClipPreview.objects.filter(clip_model__in=clip_models) if _complete(p, video)}
    summary: dict[str, Any] = {"made": 0, "skipped": len(done), "failed": 0, "seconds": {}}
    todo = [cm for cm in clip_models if cm.pk not in done]
    if not todo:
        return summary
    out_dir = workspace.processed / "previews"
    out_dir.mkdir(parents=True, exist_ok=True)
    options = ingest.options or {}

    def failed(cm: Any, exc: BaseException) -> None:
        from fala_clip.diskspace import is_disk_full

        if is_disk_full(exc):
            raise exc  # a full disk stops the job (the pipeline fails it with disk_full)
        summary["failed"] += 1
        code = getattr(exc, "code", type(exc).__name__)
        log.warning("preview of clip model %s failed: %s", cm.pk, exc, exc_info=True)
        ctx.log(f"preview of clip model #{cm.rank} failed: {code}", clip_model_id=cm.pk, error=str(exc)[:500])

    def made(n: int, cm: Any, seconds: float) -> None:
        summary["made"] += 1
        summary["seconds"][str(cm.rank)] = round(seconds, 3)
        job_record_stage_timing(job=ctx.job, stage=f"previews.clip_{cm.rank}", seconds=round(seconds, 3))
        ctx.progress(previews_done=n, previews_total=len(todo))

    if not video:
        # Sheets only: one PyAV decoder per clip, single-threaded and releasing the GIL, so the
        # clips' sheets run side by side; storing and recording stay in this thread, in rank order.
        def sheet(cm: Any) -> tuple[Any, float]:
            t0 = time.perf_counter()
            reframe = reframe_for_clip(options.get("reframe"), cm.params)
            files = make_sheet(
                str(source_path),
                cm.as_engine_clip(),
                out_dir,
                meta=analysis.meta,
                stem=f"clip-{cm.pk}",
                aspect=options.get("aspect", "9:16"),
                reframe=reframe,
                faces=reframe.faces(analysis.faces),
                saliency=reframe.saliency(analysis.saliency),  # type: ignore[arg-type]
            )
            return files, time.perf_counter() - t0

        import os

        workers = max(1, min(len(todo), os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="contact-sheet") as pool:
            futures = [(cm, pool.submit(sheet, cm)) for cm in todo]
            for n, (cm, fut) in enumerate(futures, start=1):
                t0 = time.perf_counter()
                try:
                    files, seconds = fut.result()
                    clip_sheet_build(clip_model=cm, analysis=analysis, files=files)
                except Exception as exc:
                    failed(cm, exc)
                    continue
                made(n, cm, seconds + (time.perf_counter() - t0))
        return summary

    music_path = None
    if ingest.music_id:
        music_path = str(local_copy(ingest.music.file, workspace.videos, "music" + Path(ingest.music.file).suffix))
    for n, cm in enumerate(todo, start=1):
        t0 = time.perf_counter()
        try:
            clip_preview_build(
                clip_model=cm,
                analysis=analysis,
                source_path=source_path,
                out_dir=out_dir,
                options=options,
                # as the full render: the track only under the clip models cut to it
                music_path=music_path if cm.music_offset is not None else None,
            )
        except Exception as exc:  # a preview never fails the job ...
            failed(cm, exc)
            continue
        made(n, cm, time.perf_counter() - t0)
    return summary


def clip_previews_for_video(*, owner: Any, video_id: Any) -> list[tuple[Any, Any]]:
    """``(clip_model, preview or None)`` for the current suggestions of the owner's video, in rank order.

    Raises ``VideoIngest.DoesNotExist`` when the video is not the owner's (the API answers 404).
    """
    from rendering.models import ClipPreview
    from suggestions.models import ClipModel
    from video.selectors import video_get

    ingest = video_get(owner=owner, video_id=video_id)
    models = list(ClipModel.objects.filter(ingest=ingest, suggestion_set__is_current=True).order_by("rank"))
    previews = {p.clip_model_id: p for p in ClipPreview.objects.filter(clip_model__in=models)}
    return [(cm, previews.get(cm.pk)) for cm in models]


def clip_preview_get(*, owner: Any, video_id: Any, rank: int) -> Any:
    """The preview of the clip model ranked ``rank`` in the owner's video's current suggestions.

    Raises ``VideoIngest.DoesNotExist`` / ``ClipModel.DoesNotExist`` (not the owner's, no such
    rank) and ``ClipPreview.DoesNotExist`` (none made yet).
    """
    from rendering.models import ClipPreview
    from suggestions.models import ClipModel
    from video.selectors import video_get

    ingest = video_get(owner=owner, video_id=video_id)
    cm = ClipModel.objects.get(ingest=ingest, suggestion_set__is_current=True, rank=rank)
    return ClipPreview.objects.select_related("clip_model").get(clip_model=cm)
