"""The renderer's face of the process layer (:mod:`fala_clip.media.procs`).

Every ffmpeg / ffprobe the engine starts goes through the layer (parent-death
signal, stderr drained into a bounded tail, deadline watchdog); failures come
back as :class:`RenderError` with the engine's codes (``timeout`` for the
deadline, the caller's code otherwise).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from fala_clip.media.procs import Completed, ProcessError, ProcessTimeout, Progress, ffmpeg_bin, ffprobe_bin, run

from .errors import RenderError

__all__ = ["ffmpeg_bin", "ffprobe_bin", "ffprobe_json", "run_ffmpeg", "tail", "KEEP_STDERR_BYTES"]

#: Enough stderr for ffmpeg's end-of-run reports (loudnorm JSON, ebur128
#: summary) even after a page of warnings.
KEEP_STDERR_BYTES = 1 << 20


def tail(text: str | bytes, n_lines: int = 25) -> str:
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-n_lines:])


def run_ffmpeg(
    args: list[str],
    *,
    timeout: float | None = None,
    code: str = "ffmpeg_failed",
    on_progress: Callable[[Progress], None] | None = None,
    what: str = "ffmpeg",
) -> Completed:
    """Run an ffmpeg command to completion; raise RenderError on failure.

    ``args`` may start with the ffmpeg binary or only hold its arguments.
    ``on_progress`` receives the ``-progress pipe:1`` blocks of a command
    that asks for them. Deadline -> ``timeout``, non-zero exit -> ``code``.
    """
    cmd = args if args and os.path.basename(args[0]).startswith("ffmpeg") else [ffmpeg_bin(), *args]
    try:
        return run(cmd, timeout=timeout, on_progress=on_progress, what=what, keep_stderr=KEEP_STDERR_BYTES)
    except ProcessTimeout as exc:
        raise RenderError("timeout", f"{what} ran past {timeout:.0f}s", tail(exc.stderr_tail)) from exc
    except ProcessError as exc:
        raise RenderError(code, f"{what} exited with {exc.returncode}", tail(exc.stderr_tail)) from exc


def ffprobe_json(path: str, *extra: str, timeout: float = 60) -> dict[str, Any]:
    cmd = [
        ffprobe_bin(),
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-of",
        "json",
        "-show_format",
        "-show_streams",
        *extra,
        str(path),
    ]
    try:
        proc = run(cmd, timeout=timeout, what="ffprobe")
    except ProcessTimeout as exc:
        raise RenderError("timeout", f"ffprobe ran past {timeout}s") from exc
    except ProcessError as exc:
        name = os.path.basename(path)
        raise RenderError("probe_failed", f"ffprobe could not read {name}", tail(exc.stderr_tail)) from exc
    return json.loads(bytes(proc.stdout) or b"{}")
