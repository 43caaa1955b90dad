"""Filter-graph building: the ffmpeg argv of the encode and of the loudness measurement pass.

One input per segment (``seek="input"``) or one trimmed input (``seek="trim"``, benchmark only),
the video chain (fps, trim, crop or letterbox, scale), the audio chain (source segments or the
music with fades, loudnorm) and the x264/AAC output.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from suggestions.engine.contracts import ClipModelSpec
from video.analysis.contracts import FaceSample

from ._proc import ffmpeg_bin
from .edl import RenderPlan, plan_render
from .keyframes import keyframe_seeks
from .reframe import _even, crop_path_expr
from .settings import _f, _rate_str, resolve_settings


@dataclass(frozen=True)
class PreviewOutput:
    """A second, small output of a render: the first ``seconds`` of the finished picture and sound.

    The render's final video (after captions) and audio (after loudnorm) are split; one branch is
    trimmed to the preview's frames, scaled down with ``fast_bilinear`` and encoded with x264
    ``ultrafast`` at a high CRF beside the deliverable, in the same ffmpeg run: the source is
    decoded once for both (a separate preview run decodes 6-8 s of 1080p again, ~1 s a clip on two
    cores, W5).  The preview never ends on a piece shorter than ``min_piece_s``: it stops at the
    cut before (as :func:`rendering.previews.truncate_clip`).
    """

    path: str
    width: int
    height: int
    seconds: float = 6.0
    preset: str = "ultrafast"
    crf: int = 32
    audio_bitrate: str = "64k"
    min_piece_s: float = 0.2
    fade_out_s: float = 0.12


#: x264 frame threads per usable core when the ``threads`` setting is None (x264's own
#: default is 1.5 per core), and the most it is given.
X264_THREADS_PER_CORE = 3
X264_THREADS_MAX = 16


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask; ``os.cpu_count()`` without one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def x264_threads(setting: Any) -> int | None:
    """The ``-threads`` of a deliverable's x264 encode: the ``threads`` setting when set, else
    :data:`X264_THREADS_PER_CORE` per usable core (at most :data:`X264_THREADS_MAX`), or None
    (ffmpeg's default) on one core.

    On 2 cores x264's default (3 frame threads) leaves ~0.2 core idle behind ffmpeg's one
    filtering thread (decode output, crop, the bicubic upscale to 1080x1920): W5's render
    command 14.3 -> 13.3 s on average with 6 threads in 4 interleaved rounds (8 threads the
    same, 12 slower), for the same PSNR against the source (48.97 against 48.96 dB) and a
    0.2 % smaller file.
    """
    if setting:
        return int(setting)
    cores = usable_cores()
    if cores < 2:
        return None
    return min(X264_THREADS_MAX, X264_THREADS_PER_CORE * cores)


def preview_frames(plan: RenderPlan, seconds: float, min_piece_s: float = 0.2) -> int:
    """Output frames of a preview of the plan's first ``seconds`` (see :class:`PreviewOutput`)."""
    fps = Fraction(plan.fps)
    want = min(max(1, round(seconds * fps)), plan.total_frames)
    start = 0
    for seg in plan.segments:
        end = start + seg.frames
        if want <= end:
            if start > 0 and want - start < round(min_piece_s * fps):
                return start  # a sliver of the next cut: end with the cut before
            return want
        start = end
    return want


def _preview_lines(plan: RenderPlan, st: dict, preview: PreviewOutput, vlabel: str, alabel: str) -> list[str]:
    """Split ``[vlabel]``/``[alabel]`` into ``[vmain][vprev]`` / ``[amain][aprev]``."""
    frames = preview_frames(plan, preview.seconds, preview.min_piece_s)
    sr = int(st["sample_rate"])
    samples = int(round(Fraction(frames) * sr / Fraction(plan.fps)))
    fade = min(samples, int(round(preview.fade_out_s * sr)))
    return [
        f"[{vlabel}]split=2[vmain][vp0]",
        f"[vp0]trim=end_frame={frames},scale={_even(preview.width)}:{_even(preview.height)}:flags=fast_bilinear,"
        "setsar=1,format=yuv420p[vprev]",
        f"[{alabel}]asplit=2[amain][ap0]",
        f"[ap0]atrim=end_sample={samples},afade=t=out:ss={samples - fade}:ns={fade}[aprev]",
    ]


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
        # 1 us early: a frame that starts exactly at src_in must survive
        # ffmpeg's accurate-seek trim whatever the rounding ...
        early = [round(max(seg.src_in - 1e-6, 0.0), 6) for seg in plan.segments]
        # ... but where that frame is a keyframe, at its own time: the seek lands on it
        # instead of the keyframe before (a whole GOP decoded for nothing), same frames.
        on_key = keyframe_seeks(source, early) if st.get("keyframe_seek") else {}
        for seg, ss in zip(plan.segments, early, strict=True):
            if seg.src_in > 0:
                args += ["-ss", _f(on_key.get(ss, ss))]
            args += ["-t", _f(seg.duration + margin)]
            if not video:
                args += ["-vn"]
            elif st.get("decode_skip_loop_filter"):
                args += ["-skip_loop_filter", "all"]
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
    elif st.get("decode_skip_loop_filter"):
        args += ["-skip_loop_filter", "all"]
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
    if measured and not print_json:
        from .loudness import linear_possible

        target_i = float(st["loudness_target"])
        if linear_possible(measured, target_i=target_i, target_tp=float(st["true_peak"]), target_lra=float(st["lra"])):
            # What loudnorm's linear mode does (one static gain, no limiter), without its
            # round trip through 192 kHz.
            return f"volume={target_i - float(measured['input_i']):.2f}dB"
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
    # The source's own sound: short fades at the clip's first/last samples (no click when a clip
    # starts or ends mid-sound) and a de-click at every cut between segments.
    # Pieces that continue each other in the source (an entry split where the layout changes)
    # play on without a de-click.
    segs = plan.segments
    last = len(segs) - 1
    cut = float(st["source_cut_fade"])
    half = 0.5 / float(plan.fps)

    def joined(a: int, b: int) -> bool:
        return a >= 0 and b <= last and abs(segs[a].src_out - segs[b].src_in) <= half

    for k, (seg, (_, alab)) in enumerate(zip(segs, taps, strict=True)):
        fade_in = float(st["source_fade_in"]) if k == 0 else (0.0 if joined(k - 1, k) else cut)
        fade_out = float(st["source_fade_out"]) if k == last else (0.0 if joined(k, k + 1) else cut)
        n_in = min(round(fade_in * sr), seg.samples // 4)
        n_out = min(round(fade_out * sr), seg.samples // 4)
        chain = f"[{alab}]{_audio_format(sr)},apad,atrim=end_sample={seg.samples}"
        if n_in > 0:
            chain += f",afade=t=in:ss=0:ns={n_in}"
        if n_out > 0:
            chain += f",afade=t=out:ss={seg.samples - n_out}:ns={n_out}"
        lines.append(chain + f"[a{seg.index}]")
    if len(plan.segments) == 1:
        return "a0"
    return None  # concatenated together with video


def _fit_lines(src: str, dst: str, k: int, st: dict, w: int, h: int) -> list[str]:
    """The whole frame scaled into ``w x h`` over a blurred (or black) fill: ``[src]`` → ``[dst]``."""
    flags = st["scale_flags"]
    fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags={flags},setsar=1"
    if st["letterbox_background"] == "black":
        return [f"[{src}]{fit},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,format=yuv420p[{dst}]"]
    # Blurred fill: blur a 1/8-size cover crop (cheap) and scale it back up.
    sw, sh = max(2, _even(w / 8)), max(2, _even(h / 8))
    return [
        f"[{src}]split=2[lbfg{k}][lbbg{k}]",
        f"[lbbg{k}]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
        "boxblur=lr='min(8,min(w,h)/4)':lp=2:cr='min(4,min(cw,ch)/4)':cp=2,"
        f"scale={w}:{h}:flags=bilinear,setsar=1[lbblur{k}]",
        f"[lbfg{k}]{fit}[lbfit{k}]",
        f"[lbblur{k}][lbfit{k}]overlay=(W-w)/2:(H-h)/2,format=yuv420p[{dst}]",
    ]


def _video_chain(plan: RenderPlan, st: dict, taps: list, lines: list[str]) -> None:
    """Each segment timed, framed (crop window or fit) and scaled to the output size: ``[v{k}]``.

    Scaling per segment (before the concat) lets crop and fit segments share one clip.
    """
    rate = _rate_str(plan.fps)
    w, h, flags = plan.width, plan.height, st["scale_flags"]
    for seg, (vlab, _) in zip(plan.segments, taps, strict=True):
        chain = (
            f"[{vlab}]fps={rate}:start_time=0:round=near,tpad=stop_mode=clone:stop=2,"
            f"trim=end_frame={seg.frames},setpts=PTS-STARTPTS"
        )
        if seg.layout == "fit" or plan.crop_w is None:
            lines.append(chain + f"[vt{seg.index}]")
            lines.extend(_fit_lines(f"vt{seg.index}", f"v{seg.index}", seg.index, st, w, h))
            continue
        if seg.crop_path:
            # a smooth path: the offset is an expression of the frame time t
            path = crop_path_expr(seg.crop_path)
            x = f"'{path}'" if seg.crop_axis == "x" else str(seg.crop_x)
            y = f"'{path}'" if seg.crop_axis == "y" else str(seg.crop_y)
            chain += f",crop=w={plan.crop_w}:h={plan.crop_h}:x={x}:y={y}"
        else:
            chain += f",crop={plan.crop_w}:{plan.crop_h}:{seg.crop_x}:{seg.crop_y}"
        lines.append(chain + f",scale={w}:{h}:flags={flags},setsar=1,format=yuv420p[v{seg.index}]")


def _ass_path(path: str) -> str:
    """A file path as one value of an ffmpeg filter option (``\\``, ``:``, ``'`` escaped)."""
    escaped = str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    return f"'{escaped}'"


def _burn_captions(captions: dict | None, lines: list[str]) -> None:
    """Burn an ASS subtitle file over the finished frame: ``[vfin]`` → ``[vout]``.

    ``captions``: ``{"ass": path, "fontsdir": dir or None}`` (see ``captions.py``); None → pass through.
    """
    if not captions:
        lines.append("[vfin]null[vout]")
        return
    opt = f"ass=filename={_ass_path(captions['ass'])}"
    if captions.get("fontsdir"):
        opt += f":fontsdir={_ass_path(captions['fontsdir'])}"
    lines.append(f"[vfin]{opt},format=yuv420p[vout]")


def _video_finish(plan: RenderPlan, st: dict, label: str, lines: list[str]) -> None:
    """The framed, scaled picture (see :func:`_video_chain`) as ``[vfin]`` (captions burn over it)."""
    lines.append(f"[{label}]format=yuv420p[vfin]")


def _common_head() -> list[str]:
    return [ffmpeg_bin(), "-hide_banner", "-nostdin", "-y"]


def build_command(
    source: str,
    clip: ClipModelSpec,
    out_path: str,
    *,
    music: str | None = None,
    faces: list[FaceSample] | None = None,
    saliency: Mapping[str, Any] | None = None,
    meta: dict,
    settings: dict[str, Any] | None = None,
    measured_loudness: dict | None = None,
    music_meta: dict | None = None,
    plan: RenderPlan | None = None,
    captions: dict | None = None,
    preview: PreviewOutput | None = None,
) -> list[str]:
    """The ffmpeg argv that renders one variant in a single run.

    ``captions``: ``{"ass": path, "fontsdir": dir}`` burned over the finished frame, or None.
    ``preview``: a second output of the same run, see :class:`PreviewOutput`.

    ``measured_loudness`` is the JSON printed by the measurement pass
    (:func:`build_loudness_command`); when given, loudnorm runs in linear
    (two-pass) mode, otherwise single-pass dynamic.
    """
    st = resolve_settings(settings)
    plan = plan or plan_render(clip, meta, st, faces=faces, saliency=saliency, music=bool(music), music_meta=music_meta)
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
    _burn_captions(captions, lines)

    sr = int(st["sample_rate"])
    if st["loudnorm"] and plan.audio != "silent" and not (measured_loudness and _is_silent(measured_loudness)):
        lines.append(
            f"[{alabel}]{_loudnorm(st, measured_loudness if st['loudnorm_passes'] == 2 else None)},"
            f"aresample={sr},aformat=sample_fmts=fltp:channel_layouts=stereo[aout]"
        )
    else:
        lines.append(f"[{alabel}]anull[aout]")
    vmap, amap = "[vout]", "[aout]"
    if preview is not None:
        lines += _preview_lines(plan, st, preview, "vout", "aout")
        vmap, amap = "[vmain]", "[amain]"

    gop = max(1, round(float(st["gop_seconds"]) * float(plan.fps)))
    out = [
        "-filter_complex",
        ";".join(lines),
        "-map",
        vmap,
        "-map",
        amap,
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
    threads = x264_threads(st["threads"])
    if threads:
        out += ["-threads", str(threads)]
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
    if preview is not None:
        out += [
            "-map", "[vprev]", "-map", "[aprev]", "-map_metadata", "-1", "-map_chapters", "-1",
            "-c:v", "libx264", "-preset", preview.preset, "-crf", str(preview.crf), "-pix_fmt", "yuv420p",
            "-profile:v", "high", "-g", str(gop), "-c:a", "aac", "-b:a", preview.audio_bitrate, "-ar", str(sr),
            "-ac", "2", "-max_muxing_queue_size", "1024", "-movflags", "+faststart", "-f", "mp4", preview.path,
        ]  # fmt: skip
    return [*_common_head(), "-loglevel", "warning", *args, *out]


def _is_silent(measured: dict) -> bool:
    try:
        return not math.isfinite(float(measured["input_i"])) or float(measured["input_i"]) < -69
    except (KeyError, TypeError, ValueError):
        return True


def build_loudness_command(
    source: str,
    clip: ClipModelSpec,
    *,
    music: str | None = None,
    meta: dict,
    settings: dict[str, Any] | None = None,
    music_meta: dict | None = None,
    plan: RenderPlan | None = None,
    raw_out: str | None = None,
) -> list[str] | None:
    """Audio-only pass that prints loudnorm's measurement JSON on stderr.

    Runs the exact audio chain of the final render (same segments, same
    fades), so the linear gain of pass two is computed on what is encoded.
    Returns None when there is nothing to measure (silent output).
    ``raw_out``: instead of loudnorm, write that chain to this file as 48 kHz
    stereo float32 (for :func:`rendering.engine.loudness.measure_r128`).
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
    if raw_out is not None:
        lines.append(
            f"[{alabel}]aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo[aout]"
        )
        out = ["-f", "f32le", "-y", raw_out]
    else:
        lines.append(f"[{alabel}]{_loudnorm(st, None, print_json=True)}[aout]")
        out = ["-f", "null", "-"]
    return [
        *_common_head(),
        "-loglevel",
        "error" if raw_out is not None else "info",
        "-nostats",
        *args,
        "-filter_complex",
        ";".join(lines),
        "-map",
        "[aout]",
        *out,
    ]
