"""Text shown to artists carries no server paths and no command lines.

Job errors, job events and render logs come from ffmpeg's stderr, Python
exceptions (``OSError`` names the file) and our own log lines; the full detail
stays in the server's structured logs and in the database fields operators see
in the admin.  What the API returns goes through :func:`scrub_text` /
:func:`scrub_data` on its way out (a safety net: the messages are written
without paths in the first place where we write them).

* an absolute path — under the work dir, the media root, the repository, the
  temp dir, the home directory, the virtualenv, or any of the usual top-level
  system directories (``/tmp``, ``/var``, ``/usr``, ``/home``, ...), also as a
  ``file:`` URL — becomes ``<file>``;
* an ffmpeg / ffprobe command line (the binary followed by options) becomes
  ``<command>`` up to the end of its line.

API routes (``/videos/…``, ``/jobs/…``) and URLs (``http://host/tmp/x``) are
left alone: a path is only replaced where it starts a word and its first
component is one of the roots above.

Plain Python, no Django import (the rendering engine imports it): the settings'
directories are pushed in by ``fala_clip.apps.FalaClipConfig.ready`` through
:func:`configure`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["scrub_text", "scrub_data", "configure", "PATH_PLACEHOLDER", "COMMAND_PLACEHOLDER"]

PATH_PLACEHOLDER = "<file>"
COMMAND_PLACEHOLDER = "<command>"

#: Top-level directories whose paths are never shown, whatever the settings say.
SYSTEM_ROOTS = (
    "tmp",
    "var",
    "usr",
    "home",
    "root",
    "opt",
    "srv",
    "mnt",
    "media",
    "dev",
    "proc",
    "sys",
    "run",
    "etc",
    "lib",
    "lib64",
    "bin",
    "sbin",
    "boot",
    "nix",
    "app",
    "data",
    "work",
    "workspace",
    "private",
    "Users",
    "Volumes",
)
#: Binaries whose command lines are dropped (plus the configured ``FFMPEG_BIN``'s name).
COMMANDS = ("ffmpeg", "ffprobe")
#: Characters that end a path in running text (ffmpeg writes ``path: message``).
_PATH_CHARS = r"[^\s'\"`<>|,;:()\[\]{}]*"


#: The settings' directories and ffmpeg binary, pushed in by ``FalaClipConfig.ready`` (and
#: again when a test overrides one): the module itself stays free of Django imports.
_settings_roots: tuple[str, ...] = ()
_ffmpeg_name = ""
#: The settings :func:`configure` reads.
ROOT_SETTINGS = ("WORK_DIR", "MEDIA_ROOT", "STATIC_ROOT", "MODEL_CACHE_DIR", "BASE_DIR")


def configure(*, roots: Iterable[object], ffmpeg: str | None) -> None:
    """The directories this service works in (``WORK_DIR``, ``MEDIA_ROOT``, ...) and ``FFMPEG_BIN``."""
    global _settings_roots, _ffmpeg_name
    _settings_roots = tuple(str(r) for r in roots if r)
    _ffmpeg_name = os.path.basename(ffmpeg) if ffmpeg else ""


def _configured_roots() -> tuple[str, ...]:
    """The directories this process works in."""
    fixed = [tempfile.gettempdir(), sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parent.parent)]
    home = os.environ.get("HOME")
    return (*fixed, *([home] if home else []), *_settings_roots)


def _command_names() -> tuple[str, ...]:
    return (*COMMANDS, _ffmpeg_name) if _ffmpeg_name and _ffmpeg_name not in COMMANDS else COMMANDS


@lru_cache(maxsize=8)
def _patterns(roots: tuple[str, ...], commands: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    tops = set(SYSTEM_ROOTS)
    for root in roots:
        parts = Path(os.path.abspath(root)).parts
        if len(parts) > 1:
            tops.add(parts[1])
    top = "|".join(re.escape(t) for t in sorted(tops, key=len, reverse=True))
    # A path starts a word (after a space, a quote, ``=``, or ``file:``), never inside a URL
    # (``http://host/tmp/x``: the ``/`` follows a word character) or an API route.
    path = re.compile(rf"(?:\bfile:|(?<![\w/.~:%-]))/(?:{top})(?![\w.-]){_PATH_CHARS}")
    cmd = "|".join(re.escape(c) for c in commands)
    command = re.compile(rf"(?<![\w.-])(?:[^\s'\"`]*/)?(?:{cmd})(?:\s+-[^\n]*)", re.MULTILINE)
    return path, command


def _path_repl(m: re.Match[str]) -> str:
    text = m.group(0)
    trail = len(text) - len(text.rstrip("."))  # a sentence's full stop is not part of the path
    return PATH_PLACEHOLDER + text[len(text) - trail :] if trail else PATH_PLACEHOLDER


def scrub_text(text: str) -> str:
    """``text`` without command lines and server paths (see the module docstring)."""
    commands = _command_names()
    if not text or ("/" not in text and not any(c in text for c in commands)):
        return text
    path, command = _patterns(_configured_roots(), commands)
    text = command.sub(COMMAND_PLACEHOLDER, text)
    return path.sub(_path_repl, text)


def scrub_data(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists, tuples; keys kept) scrubbed."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    return value
