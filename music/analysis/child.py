"""Helpers for running an analyser in a child process (plain Python: the child never loads Django)."""

from __future__ import annotations


def background_child(parent_pid: int | None = None, nice: int = 0, idle: bool = False) -> None:
    """Process-pool initializer of a background analysis: lower priority, then :func:`die_with_parent`.

    ``nice``: added to the child's niceness; ``idle``: Linux ``SCHED_IDLE``,
    so the child runs only on a CPU nothing else wants (a niced process still
    takes ~10 % of a contended core).  Either way the work it runs beside (the
    video decode) keeps the CPU and the child takes what is left.
    """
    import os

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
