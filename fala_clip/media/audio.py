"""Decode a file's audio to a mono float32 array: the one decoder for music and video.

One ffmpeg run through the process layer writes raw little-endian float32 PCM
to a pipe. ffmpeg may open only local files (``-protocol_whitelist file`` and
an explicit ``file:`` URL, so a name that looks like a URL or an option is
never interpreted) and never reads stdin. Plain Python, no Django.
"""

from __future__ import annotations

import os

import numpy as np

from fala_clip.media.procs import ffmpeg_bin, local_input, run

__all__ = ["decode_audio"]


def audio_command(path: str | os.PathLike[str], sr: int, *, max_seconds: float | None = None) -> list[str]:
    """The ffmpeg command that writes ``path``'s first audio stream as mono f32le at ``sr`` Hz."""
    cmd = [
        ffmpeg_bin(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *local_input(path),
    ]
    if max_seconds is not None:
        cmd += ["-t", f"{float(max_seconds):.3f}"]
    cmd += ["-vn", "-sn", "-dn", "-map", "0:a:0", "-ac", "1", "-ar", str(int(sr)), "-f", "f32le", "pipe:1"]
    return cmd


def decode_audio(
    path: str | os.PathLike[str],
    sr: int,
    *,
    max_seconds: float | None = None,
    timeout_s: float | None = 600.0,
) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sr`` Hz (maybe empty).

    ``max_seconds`` caps how much is decoded. NaNs (never useful) become 0.
    Raises :class:`fala_clip.media.procs.ProcessError` (no audio stream,
    undecodable file) or :class:`~fala_clip.media.procs.ProcessTimeout`
    with ffmpeg's stderr tail.
    """
    out = run(audio_command(path, sr, max_seconds=max_seconds), timeout=timeout_s, what="audio decode").stdout
    n = len(out) // 4
    # a bytearray we own: numpy views it writable, no copy
    y = np.frombuffer(out if isinstance(out, bytearray) else bytearray(out), dtype="<f4", count=n)
    y = y.astype(np.float32, copy=False)
    np.nan_to_num(y, copy=False)
    return y
