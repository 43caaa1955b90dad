"""Starting parts of a real stack in tests: any process (``spawn`` fixture) and a gunicorn.

Used by tests/e2e/test_two_hosts.py and tests/test_compose.py (import the fixture by name).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.procwatch import child_pids, wait_until


@pytest.fixture
def spawn():
    """Start ``argv`` as a real process (output to ``log``); all are killed after the test."""
    procs: list[subprocess.Popen] = []

    def _spawn(argv: list[str], *, env: dict, log: Path) -> subprocess.Popen:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        procs.append(proc)
        return proc

    yield _spawn
    for proc in procs:
        for pid in [*child_pids(proc.pid), proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)


def start_web(spawn, env: dict, log: Path) -> str:
    """A gunicorn (one worker) on a free port of 127.0.0.1; its base URL once it listens."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, "fala_clip.wsgi", "--bind", "127.0.0.1:0", "--workers", "1", "--timeout", "120"]
    proc = spawn(argv, env=env, log=log)

    def listening() -> str | None:
        m = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        return m.group(1) if m else None

    url = wait_until(lambda: listening() or proc.poll() is not None, timeout=90)
    assert isinstance(url, str), log.read_text()[-3000:]
    return url
