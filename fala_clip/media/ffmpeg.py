"""The ffmpeg-specific face of the process layer (:mod:`fala_clip.media.procs`).

Every ffmpeg call shares ``-nostdin -hide_banner`` and a quiet log level
(ffmpeg otherwise reads the terminal and can hang a worker), no shell, a
deadline, the parent-death signal, and on failure :class:`FFmpegError`
carrying the tail of stderr so a job error says *why* ffmpeg failed.

``FFmpegError`` *is* :class:`fala_clip.media.procs.ProcessError` (and
``FFmpegTimeout`` its timeout subclass): one error type for every child.

Plain Python, no Django at import: used by the media gate, the analysers and
the renderer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

from fala_clip.media.procs import (
    Completed,
    ProcessError,
    ProcessTimeout,
    Progress,
    ffmpeg_bin,
    ffprobe_bin,
    run,
    stderr_tail,
)

__all__ = [
    "FFmpegError",
    "FFmpegTimeout",
    "Progress",
    "ffmpeg_bin",
    "ffprobe_bin",
    "ffmpeg_cmd",
    "run_ffmpeg",
    "run_tool",
    "stderr_tail",
    "ffmpeg_version",
    "ffmpeg_version_prefetch",
]

FFmpegError = ProcessError
FFmpegTimeout = ProcessTimeout


def ffmpeg_cmd(*args: str | os.PathLike[str], loglevel: str = "error", overwrite: bool = True) -> list[str]:
    """Build an ffmpeg argument list with the shared safety flags.

    ``-nostdin`` (never read the terminal), ``-hide_banner``, a quiet log
    level, and ``-y`` unless ``overwrite`` is false (then ``-n``: never
    clobber an existing file).
    """
    return [
        ffmpeg_bin(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        loglevel,
        "-y" if overwrite else "-n",
        *[os.fspath(a) for a in args],
    ]


def run_tool(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = 600.0,
    input: bytes | None = None,
    what: str | None = None,
) -> Completed:
    """Run ``cmd`` through the process layer, capture stdout, raise on failure."""
    return run(cmd, timeout=timeout, input=input, what=what)


def run_ffmpeg(
    *args: str | os.PathLike[str],
    timeout: float | None = 600.0,
    loglevel: str = "error",
    overwrite: bool = True,
    what: str = "ffmpeg",
    on_progress: Callable[[Progress], None] | None = None,
) -> Completed:
    """Run ffmpeg with the shared flags (see :func:`ffmpeg_cmd`) and a deadline.

    With ``on_progress`` ffmpeg reports through ``-progress pipe:1``.
    Example: ``run_ffmpeg("-i", src, "-t", "5", "-c", "copy", dst, timeout=60)``.
    """
    head: tuple[str, ...] = ("-progress", "pipe:1", "-nostats") if on_progress is not None else ()
    cmd = ffmpeg_cmd(*head, *args, loglevel=loglevel, overwrite=overwrite)
    return run(cmd, timeout=timeout, what=what, on_progress=on_progress)


_VERSION_CACHE: dict[str, str] = {}
_VERSION_LOCK = threading.Lock()


def ffmpeg_version() -> str:
    """The ffmpeg version string (e.g. ``5.1.9-0+deb12u1``), cached; '' if unknown.

    Asking costs an ffmpeg start (~0.1 s, its libraries loaded); :func:`ffmpeg_version_prefetch`
    asks in a thread ahead of the first use (a caller meanwhile waits for that answer).
    """
    with _VERSION_LOCK:
        if "ffmpeg" not in _VERSION_CACHE:
            try:
                out = run_tool([ffmpeg_bin(), "-hide_banner", "-version"], timeout=10).stdout.decode("utf-8", "replace")
                first = out.splitlines()[0] if out else ""
                parts = first.split()
                _VERSION_CACHE["ffmpeg"] = parts[2] if len(parts) > 2 and parts[1] == "version" else first
            except FFmpegError:
                _VERSION_CACHE["ffmpeg"] = ""
        return _VERSION_CACHE["ffmpeg"]


def ffmpeg_version_prefetch() -> None:
    """Ask for :func:`ffmpeg_version` in a daemon thread now (a no-op once known): a process
    that will record it asks while it waits on something else, not on its critical path."""
    if "ffmpeg" not in _VERSION_CACHE:
        threading.Thread(target=ffmpeg_version, name="ffmpeg-version", daemon=True).start()
