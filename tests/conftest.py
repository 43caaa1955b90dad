"""Project-wide pytest fixtures.

Real media written by other people lives in ``../shared/media`` (beside the
repository, never copied into it).  Tests that need it take the
``shared_media`` fixture, which skips with a clear message when it is absent
(e.g. a fresh clone on a machine without the shared folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import freezegun
import pytest

# freezegun's first freeze in a process walks every loaded module; with transformers loaded
# that touches its lazy attributes and imports half the library (31 s measured, 4 s with these
# ignored).  Nothing of ours reads the clock through them.
freezegun.configure(extend_ignore_list=["transformers", "torch"])

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = Path(os.environ.get("FALA_SHARED_MEDIA", REPO_ROOT.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA / "ground_truth.json").exists():
        pytest.skip(f"shared media not found at {SHARED_MEDIA} (set FALA_SHARED_MEDIA)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def ground_truth(shared_media: Path) -> dict:
    return json.loads((shared_media / "ground_truth.json").read_text())


# --- Django / services fixtures ----------------------------------------------


@pytest.fixture
def make_artist(db):
    """Create an artist user and return ``(user, token)``."""
    from music.services import artist_create_with_user

    counter = {"n": 0}

    def _make(username: str | None = None):
        counter["n"] += 1
        artist, token = artist_create_with_user(username=username or f"artist{counter['n']}")
        return artist.user, token

    return _make


@pytest.fixture
def user_and_token(make_artist):
    return make_artist("alice")


@pytest.fixture
def user(user_and_token):
    return user_and_token[0]


@pytest.fixture
def other_user(make_artist):
    return make_artist("bob")[0]


@pytest.fixture
def api(user_and_token):
    """An API client authenticated with alice's token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_and_token[1]}")
    return client


@pytest.fixture
def anon_api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _ratelimit_window_starts_with_the_test(monkeypatch):
    """django-ratelimit counts in fixed windows whose end depends on the key (crc32 of
    ``user:<pk>``); a budget test whose first request fell on the window's last second saw its
    second request counted in a fresh window (CI, stop 24: ``user:262`` at hh:34:11 -> 202
    where 429 was due).  Within one test each (key, period) keeps the window that its first
    request opened, ending one full period later, so budget tests do not depend on the clock.
    Production keeps the library's windows (documented in docs/operations.md).
    """
    import time

    from django_ratelimit import core

    pinned: dict[tuple[str | bytes, int], int] = {}
    real = core._get_window

    def window(value, period):
        if period <= 1:  # per-second budgets keep rolling over, as the library's do
            return real(value, period)
        return pinned.setdefault((value, period), int(time.time()) + period)

    monkeypatch.setattr(core, "_get_window", window)


@pytest.fixture
def redis_conn():
    """The real Redis of the test run, flushed before each test that uses it."""
    import django_rq

    conn = django_rq.get_connection("heavy")
    conn.flushdb()
    from django.core.cache import cache

    cache.clear()
    yield conn
    conn.flushdb()


@pytest.fixture
def isolated_media(settings, tmp_path):
    """Fresh MEDIA_ROOT and WORK_DIR for this test; the storage backends are rebuilt.

    Returns the env vars a worker subprocess needs to see the same folders.
    """
    from django.core.files.storage import storages

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.WORK_DIR = tmp_path / "work"
    storages._storages = {}
    yield {"MEDIA_ROOT": settings.MEDIA_ROOT, "WORK_DIR": str(settings.WORK_DIR)}
    storages._storages = {}


@pytest.fixture
def worker_env(transactional_db, redis_conn, settings, tmp_path):
    """Environment for a real worker subprocess that shares the test database."""
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "fala_clip.settings.test"
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["WORKER_LOCK_DIR"] = str(tmp_path / "locks")
    env["PYTHONPATH"] = str(REPO_ROOT)
    settings.WORKER_LOCK_DIR = tmp_path / "locks"
    return env


@pytest.fixture
def start_worker(worker_env):
    """Start ``manage.py worker QUEUE`` as a real process; all are stopped after the test."""
    import signal
    import subprocess
    import sys

    from tests.procwatch import child_pids

    procs: list[subprocess.Popen] = []

    def _start(queue: str = "heavy", *, burst: bool = False, extra_env: dict | None = None):
        args = [sys.executable, str(REPO_ROOT / "manage.py"), "worker", queue]
        if burst:
            args.append("--burst")
        proc = subprocess.Popen(
            args,
            env={**worker_env, **(extra_env or {})},
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        # RQ work-horses call setsid(), so kill them by parentage, not group.
        for pid in [*child_pids(proc.pid), proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)
