"""Import heavy libraries in a low-priority background thread while the CPU has room.

The clip pipeline's first minutes are the source's decode: ffmpeg's H.264
decoder keeps ~1.7 of 2 cores busy and the Python side waits on its pipe.
The analysers that follow import torch, OpenCV, onnxruntime, faster-whisper
and SciPy lazily (~8 s on the 2-core machine when nothing is imported yet),
so a process that has not preloaded them (``manage.py clip``, ``make demo``;
an RQ heavy worker imports them before it forks, see
``jobs.worker.preload_modules``) pays that after the decode, on the critical
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

__all__ = ["warm_in_background"]


def _lower_this_thread(nice: int) -> None:
    if not nice or not hasattr(os, "setpriority"):
        return
    try:
        # Linux: PRIO_PROCESS with a thread id sets that thread's niceness only.
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


def warm_in_background(names: Iterable[str], *, nice: int = 19) -> threading.Thread | None:
    """Start a daemon thread importing ``names`` (those not imported yet); None when there is nothing to do."""
    todo = [n.strip() for n in names if n.strip() and n.strip() not in sys.modules]
    if not todo:
        return None

    def run() -> None:
        _lower_this_thread(nice)
        t0 = time.perf_counter()
        done = 0
        for name in todo:
            if name in sys.modules:
                continue
            try:
                importlib.import_module(name)
                done += 1
            except Exception as exc:  # the step that needs it raises the real error
                log.debug("warm-up import of %s failed: %r", name, exc)
        log.info("warm-up: %d modules imported in the background in %.1f s", done, time.perf_counter() - t0)

    thread = threading.Thread(target=run, name="fala-warmup", daemon=True)
    thread.start()
    return thread
