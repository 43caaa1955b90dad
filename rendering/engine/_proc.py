"""Small subprocess helpers for ffmpeg / ffprobe (kept local to the engine so
it has no dependency on the Django-side media helpers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from .errors import RenderError

FFMPEG = os.environ.get("FALA_FFMPEG", shutil.which("ffmpeg") or "ffmpeg")
FFPROBE = os.environ.get("FALA_FFPROBE", shutil.which("ffprobe") or "ffprobe")


def tail(text: str | bytes, n_lines: int = 25) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-n_lines:])


def run_ffmpeg(
    args: list[str], *, timeout: float | None = None, code: str = "ffmpeg_failed"
) -> subprocess.CompletedProcess:
    """Run an ffmpeg command to completion; raise RenderError on failure."""
    cmd = args if args and os.path.basename(args[0]).startswith("ffmpeg") else [FFMPEG, *args]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RenderError("timeout", f"ffmpeg ran past {timeout}s", tail(exc.stderr or b"")) from exc
    if proc.returncode != 0:
        raise RenderError(code, f"ffmpeg exited with {proc.returncode}", tail(proc.stderr))
    return proc


def ffprobe_json(path: str, *extra: str, timeout: float = 60) -> dict[str, Any]:
    cmd = [
        FFPROBE,
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
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RenderError("timeout", f"ffprobe ran past {timeout}s") from exc
    if proc.returncode != 0:
        raise RenderError("probe_failed", f"ffprobe could not read {path}", tail(proc.stderr))
    return json.loads(proc.stdout or b"{}")
