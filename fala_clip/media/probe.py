"""The ffprobe gate: every uploaded or downloaded file passes here first.

``probe(path)`` runs ffprobe with ``-protocol_whitelist file`` (so a crafted
file such as an HLS playlist or a ``concat:`` name cannot make ffprobe open
network URLs or other files) and a timeout, and returns its JSON.

``gate_audio`` / ``gate_video`` check the probe against a whitelist of
container formats and a :class:`MediaLimits`, and return normalised metadata
or raise :class:`MediaRejected` with a stable ``code`` that the API maps to a
4xx response (``http_status``).

Plain Python, no Django.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from fala_clip.media.ffmpeg import FFmpegError, FFmpegTimeout, ffprobe_bin, run_tool

__all__ = [
    "MediaRejected",
    "MediaLimits",
    "AUDIO_LIMITS",
    "VIDEO_LIMITS",
    "ALLOWED_FORMAT_TOKENS",
    "probe",
    "gate_audio",
    "gate_video",
    "normalise",
]

#: Demuxer names ffprobe reports in ``format.format_name`` (comma separated)
#: that we accept. Every token of the reported name must be in this set, so
#: ``hls``, ``concat``, ``image2``, ``*_pipe``, ``tty``, ``lavfi``... are all
#: refused. mp4/mov/m4a share the ``mov,mp4,m4a,3gp,3g2,mj2`` demuxer and
#: mkv/webm the ``matroska,webm`` one.
ALLOWED_FORMAT_TOKENS = frozenset(
    {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "mp3", "wav", "flac", "ogg"}
)

#: Containers that can hold video for the video gate (audio-only ones give
#: ``no_video_stream`` there anyway, this only sharpens the message).
AUDIO_ONLY_FORMATS = frozenset({"mp3", "wav", "flac"})

PROBE_TIMEOUT_S = 30.0


class MediaRejected(Exception):
    """The file is not acceptable; ``code`` is stable and machine-readable."""

    HTTP_STATUS = {
        "too_large": 413,
        "unsupported_format": 415,
    }

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def http_status(self) -> int:
        """Suggested HTTP status: 413 too large, 415 unsupported format, else 422."""
        return self.HTTP_STATUS.get(self.code, 422)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"MediaRejected({self.code!r}, {self.message!r}, {self.details!r})"


@dataclass(frozen=True)
class MediaLimits:
    """Caps applied by the gate. ``None`` disables a cap."""

    max_duration_s: float | None = 60 * 60.0
    max_bytes: int | None = 4 * 1024**3
    max_width: int | None = 4096
    max_height: int | None = 4096
    max_fps: float | None = 120.0
    max_streams: int | None = 8
    #: Shortest accepted duration; anything at or below is ``empty_media``.
    min_duration_s: float = 0.0
    allowed_formats: frozenset[str] = field(default=ALLOWED_FORMAT_TOKENS)

    def with_overrides(self, **changes: Any) -> MediaLimits:
        """A copy with some caps changed (e.g. from settings)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: Defaults for music tracks: 15 minutes, 200 MiB.
AUDIO_LIMITS = MediaLimits(max_duration_s=15 * 60.0, max_bytes=200 * 1024**2)
#: Defaults for source videos: 60 minutes, 4 GiB, up to 4096x4096 at 120 fps.
VIDEO_LIMITS = MediaLimits(max_duration_s=60 * 60.0, max_bytes=4 * 1024**3)


# --------------------------------------------------------------------------- probe


def probe(path: str | os.PathLike[str], *, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Run ffprobe on a local file and return its parsed JSON (format + streams).

    Only the ``file`` protocol is allowed and the path is passed as an
    explicit ``file:`` URL, so names like ``concat:a|b`` or ``http://...`` are
    never interpreted as protocols. Raises :class:`MediaRejected`
    (``unreadable_media``) when ffprobe fails, times out or prints no JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise MediaRejected("unreadable_media", "File not found or not a regular file.", {"path": p.name})
    url = "file:" + os.path.abspath(p)
    cmd = [
        ffprobe_bin(),
        "-v",
        "error",
        "-hide_banner",
        "-protocol_whitelist",
        "file",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        url,
    ]
    try:
        proc = run_tool(cmd, timeout=timeout, what="ffprobe")
    except FFmpegTimeout as exc:
        raise MediaRejected("unreadable_media", f"Probing the file took longer than {timeout:g} s.", {}) from exc
    except FFmpegError as exc:
        raise MediaRejected(
            "unreadable_media",
            "The file could not be read as audio or video.",
            {"ffprobe": _public_error(exc.stderr_tail, p)},
        ) from exc
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except ValueError as exc:
        raise MediaRejected("unreadable_media", "ffprobe returned no usable metadata.", {}) from exc
    if not isinstance(data, dict) or "format" not in data:
        raise MediaRejected("unreadable_media", "ffprobe returned no container information.", {})
    data.setdefault("streams", [])
    return data


def _public_error(tail: str, path: Path) -> str:
    """ffprobe's last error line without our absolute paths in it."""
    lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    return last.replace("file:" + os.path.abspath(path), path.name).replace(os.path.abspath(path), path.name)[:300]


# --------------------------------------------------------------------------- normalise


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _rate(value: Any) -> float | None:
    """Parse an ffprobe rate like ``30000/1001``; ``0/0`` and junk give None."""
    if not value or not isinstance(value, str):
        return None
    try:
        fr = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return float(fr) if fr > 0 else None


def _tag_duration(tags: dict[str, Any] | None) -> float | None:
    """Matroska keeps per-stream durations in a ``DURATION`` tag (HH:MM:SS.fff)."""
    if not tags:
        return None
    raw = tags.get("DURATION") or tags.get("duration")
    if not isinstance(raw, str):
        return None
    try:
        h, m, s = raw.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def _rotation(stream: dict[str, Any]) -> int:
    for sd in stream.get("side_data_list") or []:
        if "rotation" in sd:
            try:
                return int(round(float(sd["rotation"]))) % 360
            except (TypeError, ValueError):
                pass
    try:
        return int((stream.get("tags") or {}).get("rotate", 0)) % 360
    except (TypeError, ValueError):
        return 0


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def normalise(data: dict[str, Any], *, size: int | None = None) -> dict[str, Any]:
    """Reduce ffprobe JSON to the metadata the rest of the service uses."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video_streams = [s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)]
    audio_streams = [s for s in streams if s.get("codec_type") == "audio"]

    def pick(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not candidates:
            return None
        for s in candidates:
            if (s.get("disposition") or {}).get("default"):
                return s
        return candidates[0]

    vs = pick(video_streams)
    aus = pick(audio_streams)

    duration = _num(fmt.get("duration"))
    if duration is None:
        cands = [_num(s.get("duration")) or _tag_duration(s.get("tags")) for s in streams]
        known = [c for c in cands if c]
        duration = max(known) if known else None

    video = None
    if vs is not None:
        fps = _rate(vs.get("avg_frame_rate")) or _rate(vs.get("r_frame_rate"))
        nb_frames = vs.get("nb_frames")
        try:
            nb_frames = int(nb_frames) if nb_frames is not None else None
        except (TypeError, ValueError):
            nb_frames = None
        if nb_frames is None and fps and duration:
            nb_frames = int(round(duration * fps))
        video = {
            "codec": vs.get("codec_name"),
            "width": int(vs.get("width") or 0),
            "height": int(vs.get("height") or 0),
            "fps": round(fps, 6) if fps else None,
            "nb_frames": nb_frames,
            "pix_fmt": vs.get("pix_fmt"),
            "rotation": _rotation(vs),
            "index": vs.get("index"),
        }
    audio = None
    if aus is not None:
        audio = {
            "codec": aus.get("codec_name"),
            "sample_rate": int(_num(aus.get("sample_rate")) or 0),
            "channels": int(aus.get("channels") or 0),
            "index": aus.get("index"),
        }
    return {
        "format": fmt.get("format_name"),
        "duration": round(duration, 6) if duration is not None else None,
        "size": size if size is not None else int(_num(fmt.get("size")) or 0),
        "streams": len(streams),
        "bit_rate": int(_num(fmt.get("bit_rate")) or 0) or None,
        "video": video,
        "audio": audio,
    }


# --------------------------------------------------------------------------- gates


def _check_common(path: Path, limits: MediaLimits) -> tuple[dict[str, Any], int]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaRejected("unreadable_media", "File not found.", {}) from exc
    if size == 0:
        raise MediaRejected("empty_media", "The file is empty.", {"size": 0})
    if limits.max_bytes is not None and size > limits.max_bytes:
        # Checked before probing: no need to parse something we refuse anyway.
        raise MediaRejected(
            "too_large",
            f"The file is {size} bytes; the limit is {limits.max_bytes}.",
            {"size": size, "max_bytes": limits.max_bytes},
        )
    data = probe(path)
    fmt_name = str((data.get("format") or {}).get("format_name") or "")
    tokens = {t.strip() for t in fmt_name.split(",") if t.strip()}
    if not tokens or not tokens <= limits.allowed_formats:
        raise MediaRejected(
            "unsupported_format",
            f"Container format '{fmt_name or 'unknown'}' is not accepted.",
            {"format": fmt_name, "allowed": sorted(limits.allowed_formats)},
        )
    meta = normalise(data, size=size)
    if limits.max_streams is not None and meta["streams"] > limits.max_streams:
        raise MediaRejected(
            "too_many_streams",
            f"The file has {meta['streams']} streams; the limit is {limits.max_streams}.",
            {"streams": meta["streams"], "max_streams": limits.max_streams},
        )
    _measure_duration_if_suspicious(path, meta, data)
    return meta, size


# --------------------------------------------------------------------------- real duration

#: An intact file has packets up to this close to the duration its header claims.
END_TOLERANCE_S = 1.0
#: How far before the claimed end the cheap check starts reading packets.
TAIL_WINDOW_S = 3.0


def _packet_end(path: Path, *, start_s: float | None, timeout: float) -> float | None:
    """The latest ``pts + duration`` of any packet, reading from ``start_s`` (a seek;
    None = from the beginning) to the end of the file. Demuxing only, no decoding."""
    cmd = [
        ffprobe_bin(),
        "-v",
        "quiet",
        "-protocol_whitelist",
        "file",
        *(["-read_intervals", f"{start_s:.3f}%"] if start_s is not None else []),
        "-show_entries",
        "packet=pts_time,dts_time,duration_time",
        "-of",
        "csv=p=0",
        "file:" + os.path.abspath(path),
    ]
    try:
        proc = run_tool(cmd, timeout=timeout, what="ffprobe packets")
    except FFmpegTimeout as exc:
        raise MediaRejected("unreadable_media", f"Reading the file took longer than {timeout:g} s.", {}) from exc
    except FFmpegError:
        return None
    end: float | None = None
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        fields = [_num(x) for x in line.split(",")]
        ts = fields[0] if fields and fields[0] is not None else (fields[1] if len(fields) > 1 else None)
        if ts is None:
            continue
        dur = fields[2] if len(fields) > 2 and fields[2] is not None else 0.0
        end = ts + dur if end is None else max(end, ts + dur)
    return end


def _measure_duration_if_suspicious(path: Path, meta: dict[str, Any], data: dict[str, Any]) -> None:
    """Replace the container's claimed duration by the real one when the data stops early.

    A truncated mp4 with its index (moov) at the front still claims its full
    length; so may a cut Matroska or WAV header.  The cheap check, run on every
    file: demux the packets of the last few seconds the header claims.  An
    intact file has packets up to its claimed end (cost: one short ffprobe
    reading a few seconds).  When they are missing, every packet is demuxed once
    (no decoding) and the end of the last one is the duration we keep; the
    header's claim is kept in ``duration_claimed``.
    """
    claimed = meta["duration"]
    if not claimed or claimed <= 0:
        return
    fmt = data.get("format") or {}
    start = _num(fmt.get("start_time")) or 0.0
    timeout = max(PROBE_TIMEOUT_S, claimed / 20)
    tail_from = start + max(0.0, claimed - TAIL_WINDOW_S)
    tail_end = _packet_end(path, start_s=tail_from, timeout=timeout)
    if tail_end is not None and tail_end - start >= claimed - END_TOLERANCE_S:
        return
    real_end = _packet_end(path, start_s=None, timeout=timeout)
    measured = max(0.0, (real_end or start) - start)
    if measured >= claimed - END_TOLERANCE_S:
        return  # the data is all there; only seeking near the end misbehaved
    meta["duration_claimed"] = claimed
    meta["duration"] = round(measured, 6)
    video = meta.get("video")
    if video and video.get("fps"):
        video["nb_frames"] = int(round(measured * video["fps"]))


def _check_duration(meta: dict[str, Any], limits: MediaLimits) -> None:
    duration = meta["duration"]
    if duration is None or duration <= max(limits.min_duration_s, 0.0):
        raise MediaRejected("empty_media", "The media has no measurable duration.", {"duration": duration})
    if limits.max_duration_s is not None and duration > limits.max_duration_s:
        raise MediaRejected(
            "too_long",
            f"The media lasts {duration:.1f} s; the limit is {limits.max_duration_s:g} s.",
            {"duration": duration, "max_duration_s": limits.max_duration_s},
        )


def gate_audio(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> dict[str, Any]:
    """Accept an audio file (music track) or raise :class:`MediaRejected`.

    A video file with an audio stream is accepted too (its audio is used).
    """
    limits = limits or AUDIO_LIMITS
    meta, _ = _check_common(Path(path), limits)
    if meta["audio"] is None:
        raise MediaRejected("no_audio_stream", "The file has no audio stream.", {"format": meta["format"]})
    if not meta["audio"]["sample_rate"] or not meta["audio"]["channels"]:
        raise MediaRejected("unreadable_media", "The audio stream has no sample rate or channels.", {})
    _check_duration(meta, limits)
    return meta


def gate_video(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> dict[str, Any]:
    """Accept a source video (audio optional) or raise :class:`MediaRejected`."""
    limits = limits or VIDEO_LIMITS
    meta, _ = _check_common(Path(path), limits)
    video = meta["video"]
    if video is None:
        hint = " (this looks like an audio file)" if meta["audio"] is not None else ""
        raise MediaRejected("no_video_stream", f"The file has no video stream{hint}.", {"format": meta["format"]})
    if video["width"] <= 0 or video["height"] <= 0:
        raise MediaRejected("unreadable_media", "The video stream has no frame size.", {})
    if (limits.max_width is not None and video["width"] > limits.max_width) or (
        limits.max_height is not None and video["height"] > limits.max_height
    ):
        raise MediaRejected(
            "resolution_too_high",
            f"The video is {video['width']}x{video['height']}; the limit is {limits.max_width}x{limits.max_height}.",
            {
                "width": video["width"],
                "height": video["height"],
                "max_width": limits.max_width,
                "max_height": limits.max_height,
            },
        )
    if limits.max_fps is not None and video["fps"] is not None and video["fps"] > limits.max_fps + 1e-6:
        raise MediaRejected(
            "fps_too_high",
            f"The video runs at {video['fps']:.3f} fps; the limit is {limits.max_fps:g}.",
            {"fps": video["fps"], "max_fps": limits.max_fps},
        )
    _check_duration(meta, limits)
    if video["nb_frames"] == 0:
        raise MediaRejected("empty_media", "The video stream has no frames.", {})
    return meta
