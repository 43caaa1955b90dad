"""Check a rendered variant: codecs, size, frame rate, faststart, A/V sync by
timestamps, duration against the EDL, and loudness.

``verify_output`` never trusts the encoder's intent: everything comes from
ffprobe and from the file's own top-level MP4 atoms.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ._proc import ffmpeg_bin, ffprobe_json, run_ffmpeg
from .errors import RenderError

# --------------------------------------------------------------------------- MP4 atoms


def top_level_atoms(path: str, *, limit: int = 4096) -> list[tuple[str, int, int]]:
    """``[(type, offset, size), ...]`` of the top-level boxes of an ISO-BMFF file.

    Handles 64-bit sizes (size == 1) and a last box that runs to EOF
    (size == 0).  Stops at a malformed header instead of looping.
    """
    atoms: list[tuple[str, int, int]] = []
    file_size = os.path.getsize(path)
    with open(path, "rb") as fh:
        offset = 0
        while offset + 8 <= file_size and len(atoms) < limit:
            fh.seek(offset)
            header = fh.read(8)
            size, kind = struct.unpack(">I4s", header)
            header_len = 8
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                header_len = 16
            elif size == 0:
                size = file_size - offset
            name = kind.decode("latin-1")
            if size < header_len or offset + size > file_size:
                atoms.append((name, offset, file_size - offset))
                break
            atoms.append((name, offset, size))
            offset += size
    return atoms


def moov_before_mdat(path: str) -> bool:
    names = [a[0] for a in top_level_atoms(path)]
    if "moov" not in names or "mdat" not in names:
        return False
    return names.index("moov") < names.index("mdat")


# --------------------------------------------------------------------------- loudness

_EBUR128_I = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf)\s*LUFS", re.M)
_EBUR128_LRA = re.compile(r"Loudness range:\s*\n\s*LRA:\s*(-?[\d.]+)\s*LU", re.M)
_EBUR128_TP = re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf)\s*dBFS", re.M)


def loudness_stats(path: str, *, timeout: float = 300, true_peak: bool = True) -> dict[str, float]:
    """EBU R128 integrated loudness (LUFS), loudness range (LU) and true peak (dBTP).

    ``true_peak=False`` skips the 4x-oversampled peak (half the cost; ``true_peak`` is then NaN).
    """
    proc = run_ffmpeg(
        [
            ffmpeg_bin(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "info",
            "-protocol_whitelist",
            "file",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true" if true_peak else "ebur128",
            "-f",
            "null",
            "-",
        ],
        timeout=timeout,
        code="loudness_failed",
    )
    text = proc.stderr.decode("utf-8", "replace")
    summary = text[text.rfind("Summary:") :] if "Summary:" in text else text

    def grab(rx: re.Pattern) -> float:
        m = rx.search(summary)
        if not m:
            raise RenderError("loudness_failed", f"no {rx.pattern[:20]!r} in ebur128 output", summary[-1500:])
        return float("-inf") if m.group(1) == "-inf" else float(m.group(1))

    return {
        "integrated": grab(_EBUR128_I),
        "lra": grab(_EBUR128_LRA),
        "true_peak": grab(_EBUR128_TP) if true_peak else float("nan"),
    }


def measure_loudness(path: str) -> float:
    """Integrated loudness of the first audio stream, in LUFS (ebur128 reports -70 for silence)."""
    return loudness_stats(path, true_peak=False)["integrated"]


def parse_loudnorm_json(stderr: str) -> dict[str, Any]:
    """The JSON block loudnorm prints with ``print_format=json`` (last one wins)."""
    start = stderr.rfind("{")
    end = stderr.rfind("}")
    if start < 0 or end < start:
        raise RenderError("loudness_failed", "loudnorm printed no measurement", stderr[-1500:])
    try:
        data = json.loads(stderr[start : end + 1])
    except json.JSONDecodeError as exc:
        raise RenderError("loudness_failed", "loudnorm measurement is not JSON", stderr[-1500:]) from exc
    out: dict[str, Any] = {}
    for key, value in data.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


# --------------------------------------------------------------------------- verification


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _rate(value: Any) -> float | None:
    if not value or value in ("0/0",):
        return None
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        return float(num) / float(den) if float(den) else None
    return _float(value)


def _run_into(fut: Future[Any], func: Callable[..., Any], *args: Any) -> None:
    try:
        fut.set_result(func(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
        fut.set_exception(exc)


def verify_output(
    path: str,
    *,
    expected_duration: float,
    fps: float,
    width: int,
    height: int,
    target_lufs: float | None = None,
    lufs_tolerance: float = 1.5,
    sample_rate: int = 48000,
    raise_on_fail: bool = False,
) -> dict[str, Any]:
    """Probe a rendered file and check it against what was asked.

    Returns ``{"ok", "sync_failed", "av_offset_s", "av_end_offset_s",
    "duration", "frames", "loudness", "checks": {name: {"ok", "value",
    "expected"}}, "failed": [names]}``.  A/V sync is judged by timestamps:
    both streams must start within one frame of each other, and each stream's
    duration must be within one frame of the other and of the EDL duration.
    With ``raise_on_fail`` a sync problem raises ``RenderError("sync_failed")``
    and any other failed check ``RenderError("verify_failed")``.
    """
    if not os.path.exists(path):
        raise RenderError("verify_failed", f"output {path} does not exist")
    frame = 1.0 / float(fps)
    tol = frame + 1e-3  # one frame, plus timestamp rounding of the container
    # The loudness (an ffmpeg decoding the audio) is measured beside the probe (an ffprobe
    # counting the packets): each is single-threaded and the renders wait for both.
    loudness_run: Future[float] | None = None
    if target_lufs is not None:
        loudness_run = Future()
        threading.Thread(target=_run_into, args=(loudness_run, measure_loudness, path), daemon=True).start()
    info = ffprobe_json(path, "-count_packets")
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = info.get("format", {})
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, ok: bool, value: Any, expected: Any) -> None:
        checks[name] = {"ok": bool(ok), "value": value, "expected": expected}

    v_codec = video.get("codec_name") if video else None
    a_codec = audio.get("codec_name") if audio else None
    check("video_codec", v_codec == "h264", v_codec, "h264")
    check("audio_codec", a_codec == "aac", a_codec, "aac")
    size = (video.get("width"), video.get("height")) if video else None
    check("size", size == (width, height), size and f"{size[0]}x{size[1]}", f"{width}x{height}")
    if video:
        check("pix_fmt", video.get("pix_fmt") == "yuv420p", video.get("pix_fmt"), "yuv420p")
        rate = _rate(video.get("avg_frame_rate"))
        check("fps", rate is not None and abs(rate - fps) < 0.01, rate, fps)
    if audio:
        check(
            "sample_rate",
            int(audio.get("sample_rate") or 0) == sample_rate,
            int(audio.get("sample_rate") or 0),
            sample_rate,
        )
        check("channels", audio.get("channels") == 2, audio.get("channels"), 2)
    check("faststart", moov_before_mdat(path), [a[0] for a in top_level_atoms(path)][:6], "moov before mdat")

    v_start = _float(video.get("start_time")) if video else None
    a_start = _float(audio.get("start_time")) if audio else None
    v_dur = _float(video.get("duration")) if video else None
    a_dur = _float(audio.get("duration")) if audio else None
    frames = int(video.get("nb_read_packets") or 0) if video else 0
    av_offset = av_end = None
    sync_ok = False
    if None not in (v_start, a_start, v_dur, a_dur):
        assert v_start is not None and a_start is not None and v_dur is not None and a_dur is not None
        av_offset = round(a_start - v_start, 6)
        av_end = round((a_start + a_dur) - (v_start + v_dur), 6)
        check("av_start_offset", abs(av_offset) <= tol, av_offset, f"|x| <= {tol:.4f}")
        check("av_end_offset", abs(av_end) <= tol, av_end, f"|x| <= {tol:.4f}")
        check("video_duration", abs(v_dur - expected_duration) <= tol, v_dur, expected_duration)
        check("audio_duration", abs(a_dur - expected_duration) <= tol, a_dur, expected_duration)
        sync_ok = all(checks[k]["ok"] for k in ("av_start_offset", "av_end_offset", "video_duration", "audio_duration"))
    else:
        check(
            "av_timestamps",
            False,
            {"v_start": v_start, "a_start": a_start, "v_dur": v_dur, "a_dur": a_dur},
            "all known",
        )
    expected_frames = round(expected_duration * fps)
    check("frame_count", abs(frames - expected_frames) <= 1, frames, expected_frames)
    duration = _float(fmt.get("duration"))

    loudness = None
    if loudness_run is not None:
        try:
            loudness = loudness_run.result()
        except Exception:
            if audio:
                raise
        if not audio:  # nothing to measure: the probe says so (the measurement failed or is moot)
            loudness = None
    if loudness is not None and target_lufs is not None:
        check(
            "loudness",
            math.isfinite(loudness) and abs(loudness - target_lufs) <= lufs_tolerance,
            loudness,
            f"{target_lufs} +- {lufs_tolerance}",
        )

    failed = [name for name, c in checks.items() if not c["ok"]]
    result = {
        "ok": not failed,
        "sync_failed": not sync_ok,
        "av_offset_s": av_offset,
        "av_end_offset_s": av_end,
        "duration": duration,
        "video_duration": v_dur,
        "audio_duration": a_dur,
        "frames": frames,
        "loudness": loudness,
        "size": int(fmt.get("size") or 0),
        "checks": checks,
        "failed": failed,
    }
    if raise_on_fail and failed:
        detail = "; ".join(f"{n}={checks[n]['value']!r} (expected {checks[n]['expected']})" for n in failed)
        raise RenderError("sync_failed" if not sync_ok else "verify_failed", detail)
    return result
