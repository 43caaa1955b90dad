"""Import heavy libraries in a low-priority background thread while the CPU has room.

The clip pipeline's first minutes are the source's decode: ffmpeg's H.264
decoder keeps ~1.7 of 2 cores busy and the Python side waits on its pipe.
The analysers that follow import torch, OpenCV, onnxruntime, faster-whisper
and SciPy lazily (~8 s on the 2-core machine when nothing is imported yet),
so a process that has not preloaded them (``manage.py clip``, ``make demo``;
an RQ heavy worker imports them before it forks, see
``jobs.worker.preload_modules``, with :func:`import_modules` too) pays that after the decode, on the critical
path.  :func:`warm_in_background` moves it into the decode's idle share: the
thread runs at the lowest priority (its own niceness, Linux), imports only
what is not imported yet, and never raises (the step that needs a module
reports the real error).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)

__all__ = ["import_modules", "warm_in_background"]


def _lower_this_thread(nice: int) -> None:
    if not nice or not hasattr(os, "setpriority"):
        return
    try:
        # Linux: PRIO_PROCESS with a thread id sets that thread's niceness only.
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


def _todo(names: Iterable[str]) -> list[str]:
    return [n.strip() for n in names if n.strip() and n.strip() not in sys.modules]


def import_modules(
    names: Iterable[str], *, what: str = "import", logger: logging.Logger = log, level: int = logging.WARNING
) -> dict[str, float]:
    """Import those of ``names`` not imported yet; seconds per module imported.

    A module that fails to import is logged (``"<what> of <name> failed, skipped"``
    at ``level`` on ``logger``) and skipped: the step that needs it raises the
    real error.  Used by the heavy worker's preload, the warm-up thread and the
    background music analysis child.
    """
    seconds: dict[str, float] = {}
    for name in _todo(names):
        t = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:
            logger.log(level, "%s of %s failed, skipped: %r", what, name, exc)
            continue
        seconds[name] = round(time.perf_counter() - t, 3)
    return seconds


def warm_in_background(names: Iterable[str], *, nice: int = 19) -> threading.Thread | None:
    """Start a daemon thread importing ``names`` (those not imported yet); None when there is nothing to do."""
    todo = _todo(names)
    if not todo:
        return None

    def run() -> None:
        _lower_this_thread(nice)
        t0 = time.perf_counter()
        done = import_modules(todo, what="warm-up import", level=logging.DEBUG)
        log.info("warm-up: %d modules imported in the background in %.1f s", len(done), time.perf_counter() - t0)

    thread = threading.Thread(target=run, name="fala-warmup", daemon=True)
    thread.start()
    return thread
