"""Platform URLs (YouTube, Vimeo, TikTok, ...) through yt-dlp, for extraction only.

yt-dlp's Python API only *extracts* the media URLs (no playlists, live
streams refused, extractors restricted to the platforms, the generic
extractor never used, ``match_filter`` on duration, a format filter on file
size and plain http(s) protocols); the bytes are fetched by the pinned,
capped downloader (:mod:`video.download.http`) and separate video+audio
formats merged with ``ffmpeg -c copy`` through the process layer.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from video.download.http import _Deadline, _fetch
from video.download.policy import DownloadRefused, check_url

#: yt-dlp extractor names allowed for those hosts (regexes on the IE name).
PLATFORM_EXTRACTORS = (
    "youtube.*",
    "vimeo.*",
    "tiktok.*",
    "instagram.*",
    "facebook.*",
    "twitter.*",
    "dailymotion.*",
    "twitch.*",
    "soundcloud.*",
)


class _QuietLogger:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass


def _ydl_options(max_bytes: int, max_duration_s: float, timeout: float) -> dict[str, Any]:
    from yt_dlp.utils import match_filter_func

    size = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    proto = "[protocol^=http][protocol!*=dash][protocol!*=m3u8]"
    fmt = f"bv*[height<=1080]{size}{proto}+ba{size}{proto}/b[height<=1080]{size}{proto}/b{size}{proto}"
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "noplaylist": True,
        "playlist_items": "1",
        "skip_download": True,
        "simulate": True,
        "format": fmt,
        "max_filesize": max_bytes,
        "match_filter": match_filter_func([f"duration <=? {int(max_duration_s)} & !is_live"]),
        "allowed_extractors": list(PLATFORM_EXTRACTORS),
        "socket_timeout": max(1.0, min(timeout, 30.0)),
        "cachedir": False,
        "proxy": "",
        "check_formats": False,
        "extract_flat": False,
    }


def _ydl_extract(url: str, opts: dict[str, Any]) -> dict[str, Any]:
    import yt_dlp

    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(url, download=False)
        return ydl.sanitize_info(info) if info else {}


def _platform_download(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    max_duration_s: float,
    deadline: _Deadline,
    allow_hosts: Iterable[str],
) -> Path:
    # same guard as a direct URL: the page's host must resolve to public addresses
    check_url(url, allow_hosts=allow_hosts, timeout=min(deadline.left(), 10.0))
    opts = _ydl_options(max_bytes, max_duration_s, deadline.left())
    try:
        info = _ydl_extract(url, opts)
    except DownloadRefused:
        raise
    except Exception as exc:  # yt-dlp raises many types; the message is what matters
        raise DownloadRefused("download_failed", f"could not read the platform page: {str(exc)[:300]}") from None
    deadline.left()
    if not info:
        raise DownloadRefused("download_failed", "the platform returned nothing")
    if info.get("_type") in ("playlist", "multi_video") or info.get("entries"):
        raise DownloadRefused("download_failed", "playlists are not accepted")
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
        raise DownloadRefused("download_failed", "live streams are not accepted")
    duration = info.get("duration")
    if duration is not None and float(duration) > max_duration_s:
        raise DownloadRefused("too_long", f"the video lasts {float(duration):.0f} s; the limit is {max_duration_s:g} s")
    formats = info.get("requested_formats") or ([info] if info.get("url") else [])
    if not formats:
        raise DownloadRefused("download_failed", "no downloadable format within the limits")
    announced = sum(int(f.get("filesize") or f.get("filesize_approx") or 0) for f in formats)
    if announced > max_bytes:
        raise DownloadRefused("too_large", f"the video is about {announced} bytes; the limit is {max_bytes}")
    parts: list[Path] = []
    try:
        budget = max_bytes
        for f in formats:
            proto = str(f.get("protocol") or "https")
            if not proto.startswith("http") or "m3u8" in proto or "dash" in proto:
                raise DownloadRefused("download_failed", f"unsupported streaming protocol {proto}")
            part, _ = _fetch(
                f["url"],
                dest_dir,
                max_bytes=budget,
                deadline=deadline,
                allow_hosts=allow_hosts,
                headers=f.get("http_headers") or {},
                media_only=False,
                platform_check=False,
            )
            assert part is not None
            parts.append(part)
            budget -= part.stat().st_size
        if len(parts) == 1:
            return parts[0]
        return _merge(parts, dest_dir, deadline)
    finally:
        if len(parts) > 1:
            for p in parts:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


def _merge(parts: list[Path], dest_dir: Path, deadline: _Deadline) -> Path:
    from fala_clip.media.ffmpeg import FFmpegError, run_ffmpeg

    out = dest_dir / f"download-{secrets.token_hex(8)}.mkv"
    args: list[str] = ["-protocol_whitelist", "file"]
    for p in parts:
        args += ["-i", "file:" + os.path.abspath(p)]
    for i in range(len(parts)):
        args += ["-map", f"{i}"]
    args += ["-c", "copy", str(out)]
    try:
        run_ffmpeg(*args, timeout=deadline.left(), what="ffmpeg merge")
    except FFmpegError as exc:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        raise DownloadRefused("download_failed", f"could not merge video and audio: {exc.stderr_tail[-300:]}") from None
    return out
