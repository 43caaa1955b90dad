"""Waiting on conditions and looking at processes, for tests.

Tests never synchronise by sleeping a fixed time: they poll the condition they
need (a row, a lock holder, a process gone) with a deadline, through
:func:`wait_until`.  The process helpers read ``/proc`` (Linux).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float, interval: float = 0.05) -> T:
    """Poll ``condition`` until it is truthy or ``timeout`` s pass; return its last value.

    Callers assert on the result, so a timeout fails with their own message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)  # the polling interval, not a synchronisation


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of ``pid``; None when it does not exist."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def proc_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def proc_argv(pid: int) -> list[str]:
    try:
        return [a.decode("utf-8", "replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                children.setdefault(st[1], []).append(int(entry.name))
    return children


def child_pids(parent: int) -> list[int]:
    """The direct children of ``parent``."""
    return _children_map().get(parent, [])


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren, …)."""
    children = _children_map()
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def fresh_python(code: str, *, timeout: float = 120) -> list[str]:
    """Run ``code`` in a new interpreter from the repository root; the words it printed.

    For what only a fresh process shows (which modules an import chain pulls in).  A non-zero
    exit fails the test with the child's stderr.
    """
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()
