"""Helpers for running an analyser in a child process (plain Python: the child never loads Django)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Set by :func:`background_child` when the analysis waits for its parent's go (see :func:`run_when_told`).
_GO: Any = None


def background_child(
    parent_pid: int | None = None,
    nice: int = 0,
    idle: bool = False,
    go: Any = None,
    warm: tuple[str, ...] = (),
) -> None:
    """Process-pool initializer of a background analysis: lower priority, then :func:`die_with_parent`.

    ``nice``: added to the child's niceness; ``idle``: Linux ``SCHED_IDLE``,
    so the child runs only on a CPU nothing else wants (a niced process still
    takes ~10 % of a contended core).  Either way the work it runs beside (the
    video decode) keeps the CPU and the child takes what is left.
    ``go``: a ``multiprocessing`` event the task waits for (:func:`run_when_told`);
    ``warm``: modules imported meanwhile, so that the analysis starts at once
    when told (a spawned child imports everything anew: ~3 s of CPU).
    """
    import os

    global _GO
    _GO = go

    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    if idle and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
    die_with_parent(parent_pid)
    # One BLAS/OpenMP thread: the child analyses beside its parent's own analysers, and a
    # second spinning BLAS thread per process only takes CPU from them. The variables count
    # for libraries loaded from now on; threadpoolctl limits those loaded already.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if warm:
        from fala_clip.media.ffmpeg import ffmpeg_version
        from fala_clip.media.warmup import import_modules

        import_modules(warm, what="background warm-up import")
        ffmpeg_version()  # the analysis records it: asked now, while the child waits anyway
    import threadpoolctl

    threadpoolctl.threadpool_limits(limits=1)


def run_when_told(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Pool task: wait for the initializer's ``go`` event (when one was given), then ``func(*args, **kwargs)``.

    The parent sets the event when the CPU it wants the analysis to use is
    free (the clip pipeline: when the video decode ends); it kills the child
    instead when it gives up, so the wait needs no timeout.
    """
    if _GO is not None:
        _GO.wait()
    return func(*args, **kwargs)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Process-pool initializer: SIGKILL this child when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    A killed work-horse then leaves no analysis running behind it.  Elsewhere a
    no-op: the pool's own shutdown still reaps the child.  ``parent_pid``: the
    parent that started it; a parent that died before the signal was armed
    (the child was still importing) is caught by comparing it with ours.
    """
    import ctypes
    import os
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # orphaned already
