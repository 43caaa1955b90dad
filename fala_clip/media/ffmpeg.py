"""Small shared helpers around the ffmpeg / ffprobe command-line tools.

Every call goes through :func:`run_ffmpeg` (or :func:`run_tool`) so that all
of them share the same hygiene: ``-nostdin -hide_banner`` (ffmpeg otherwise
reads the terminal and can hang a worker), a wall-clock timeout, no shell, and
on failure an exception that carries the tail of stderr so the job error says
*why* ffmpeg failed instead of only an exit code.

Plain Python, no Django: used by the media gate, the video analysers and the
renderer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "FFmpegError",
    "FFmpegTimeout",
    "ffmpeg_bin",
    "ffprobe_bin",
    "ffmpeg_cmd",
    "run_ffmpeg",
    "run_tool",
    "stderr_tail",
    "ffmpeg_version",
]

#: How much of stderr an error keeps (ffmpeg prints the useful line last).
STDERR_TAIL_CHARS = 2000


class FFmpegError(RuntimeError):
    """An ffmpeg/ffprobe process failed.

    ``returncode`` is the exit status (``None`` when it was killed for the
    timeout), ``stderr_tail`` the last part of what it printed, ``cmd`` the
    argument list (paths included: log it only where paths are not secret).
    """

    def __init__(self, message: str, *, cmd: Sequence[str], returncode: int | None, stderr_tail: str):
        super().__init__(f"{message}: {stderr_tail.strip()}" if stderr_tail.strip() else message)
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class FFmpegTimeout(FFmpegError):
    """The process ran past its timeout and was killed."""


def _which(env_var: str, name: str) -> str:
    override = os.environ.get(env_var)
    if override:
        return override
    return shutil.which(name) or name


def ffmpeg_bin() -> str:
    """Path of the ffmpeg binary (``FFMPEG_BIN`` overrides)."""
    return _which("FFMPEG_BIN", "ffmpeg")


def ffprobe_bin() -> str:
    """Path of the ffprobe binary (``FFPROBE_BIN`` overrides)."""
    return _which("FFPROBE_BIN", "ffprobe")


def stderr_tail(data: bytes | str | None, limit: int = STDERR_TAIL_CHARS) -> str:
    """Decode and keep the last ``limit`` characters of a process' stderr."""
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[-limit:]


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
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` (no shell), capture stdout/stderr, raise on failure.

    Raises :class:`FFmpegTimeout` after ``timeout`` seconds (the process is
    killed) and :class:`FFmpegError` on a non-zero exit, both with the tail of
    stderr. ``what`` names the operation in the message.
    """
    argv = [os.fspath(c) for c in cmd]
    label = what or Path(argv[0]).name
    try:
        proc = subprocess.run(
            argv,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FFmpegTimeout(
            f"{label} timed out after {timeout:g} s",
            cmd=argv,
            returncode=None,
            stderr_tail=stderr_tail(exc.stderr),
        ) from None
    except FileNotFoundError as exc:
        raise FFmpegError(f"{label}: executable not found", cmd=argv, returncode=None, stderr_tail=str(exc)) from None
    if proc.returncode != 0:
        raise FFmpegError(
            f"{label} failed with exit status {proc.returncode}",
            cmd=argv,
            returncode=proc.returncode,
            stderr_tail=stderr_tail(proc.stderr),
        )
    return proc


def run_ffmpeg(
    *args: str | os.PathLike[str],
    timeout: float | None = 600.0,
    loglevel: str = "error",
    overwrite: bool = True,
    what: str = "ffmpeg",
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with the shared flags (see :func:`ffmpeg_cmd`) and a timeout.

    Example: ``run_ffmpeg("-i", src, "-t", "5", "-c", "copy", dst, timeout=60)``.
    """
    return run_tool(ffmpeg_cmd(*args, loglevel=loglevel, overwrite=overwrite), timeout=timeout, what=what)


_VERSION_CACHE: dict[str, str] = {}


def ffmpeg_version() -> str:
    """The ffmpeg version string (e.g. ``5.1.9-0+deb12u1``), cached; '' if unknown."""
    if "ffmpeg" not in _VERSION_CACHE:
        try:
            out = run_tool([ffmpeg_bin(), "-hide_banner", "-version"], timeout=10).stdout.decode("utf-8", "replace")
            first = out.splitlines()[0] if out else ""
            parts = first.split()
            _VERSION_CACHE["ffmpeg"] = parts[2] if len(parts) > 2 and parts[1] == "version" else first
        except FFmpegError:
            _VERSION_CACHE["ffmpeg"] = ""
    return _VERSION_CACHE["ffmpeg"]
