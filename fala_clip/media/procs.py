"""Child-process hygiene for long media tools (plain Python, no Django).

An ffmpeg started by a work-horse must not outlive it: when the horse is
killed (SIGKILL, OOM, job timeout) the kernel sends the child SIGKILL too
(``PR_SET_PDEATHSIG``), so a retried job never races an orphan still writing
into the same workspace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True) if sys.platform == "linux" else None
_prctl = _libc.prctl if _libc is not None else None


def _set_pdeathsig() -> None:  # runs in the child between fork and exec: keep it tiny
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` (None where unsupported)."""
    return _set_pdeathsig if _prctl is not None else None
