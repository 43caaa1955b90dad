"""Prometheus multiprocess mode: one scrape for gunicorn workers, RQ workers and work-horses.

prometheus_client writes each process's values to ``<type>_<pid>.db`` mmap files in
``PROMETHEUS_MULTIPROC_DIR`` and the collector sums them.  Left alone the directory grows
by a few files per process, and RQ forks a work-horse per job: after N jobs it holds N
sets of files and every scrape reads them all.  So a dead process's counters and
histograms are *folded* into one archive file per type (``counter_archive.db``,
``histogram_archive.db``): the totals are kept (a counter never goes backwards) and the
directory holds only live processes plus the archives.  Its ``live*`` gauges are
dropped (``mark_process_dead``).

Folding and scraping take one ``flock`` on ``.lock`` in the directory (exclusive to
fold, shared to read), so a scrape never sees a value both in a process file and in the
archive, nor in neither.

Who folds: the RQ worker after each work-horse exits (``jobs.worker.FalaWorker``), gunicorn's
``child_exit`` hook (``fala_clip/gunicorn_conf.py``), and every scrape for any other
dead process (a ``manage.py`` command, a crashed worker) — dead meaning its pid no
longer exists on this host.  The directory is wiped when the stack starts
(``scripts/serve.sh``; a container entry point must do the same), never while it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

ARCHIVE = "archive"
#: Metric types whose values add up across processes (gauges are per process).
_ADDITIVE = ("counter", "histogram", "summary")
_PID_FILE = re.compile(r"^(counter|histogram|summary|gauge_[a-z]+)_(\d+)\.db$")


def multiproc_dir() -> Path | None:
    """The directory of this process's multiprocess mode, or None when it is off."""
    raw = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    return Path(raw) if raw else None


@contextlib.contextmanager
def _locked(path: Path, *, exclusive: bool) -> Iterator[None]:
    with open(path / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(path: Path | None = None) -> Iterator[None]:
    """Hold while collecting: no fold happens meanwhile."""
    path = path or multiproc_dir()
    if path is None:
        yield
        return
    with _locked(path, exclusive=False):
        yield


def wipe(path: Path) -> None:
    """Start afresh: remove every value file (call before any process of the stack starts)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _pid_files(path: Path) -> dict[int, list[Path]]:
    files: dict[int, list[Path]] = {}
    for entry in os.scandir(path):
        m = _PID_FILE.match(entry.name)
        if m:
            files.setdefault(int(m.group(2)), []).append(Path(entry.path))
    return files


def _fold(path: Path, pid: int, files: list[Path]) -> None:
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    for typ in _ADDITIVE:
        source = path / f"{typ}_{pid}.db"
        if source not in files:
            continue
        archive = path / f"{typ}_{ARCHIVE}.db"
        totals: dict[str, float] = {}
        if archive.exists():
            for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(archive)):
                totals[key] = value
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(source)):
            totals[key] = totals.get(key, 0.0) + value
        tmp = path / f".{typ}_{ARCHIVE}.tmp"
        tmp.unlink(missing_ok=True)
        out = MmapedDict(str(tmp))
        try:
            for key, value in totals.items():
                out.write_value(key, value, 0.0)
        finally:
            out.close()
        os.replace(tmp, archive)  # the archive is complete or untouched, never half-written
        source.unlink()
    # Drops the dead process's live* gauges (other gauge modes keep their files by design).
    multiprocess.mark_process_dead(pid, str(path))


def fold_process(pid: int, path: Path | None = None) -> bool:
    """Fold a dead process's values into the archives; False when it is still alive."""
    path = path or multiproc_dir()
    if path is None or not path.is_dir():
        return False
    if pid_alive(pid) and pid != os.getpid():
        return False
    with _locked(path, exclusive=True):
        files = _pid_files(path).get(pid, [])
        if files:
            _fold(path, pid, files)
    return True


def fold_dead(path: Path | None = None) -> int:
    """Fold every dead process found in the directory; the number folded."""
    path = path or multiproc_dir()
    if path is None or not path.is_dir():
        return 0
    me = os.getpid()
    dead = [pid for pid in _pid_files(path) if pid != me and not pid_alive(pid)]
    if not dead:
        return 0
    with _locked(path, exclusive=True):
        by_pid = _pid_files(path)
        for pid in dead:
            if pid in by_pid:
                try:
                    _fold(path, pid, by_pid[pid])
                except Exception:  # one unreadable file must not stop the others or the scrape
                    log.exception("could not fold the metrics of dead process %s", pid)
    return len(dead)


def dir_usage(path: Path | None = None) -> tuple[int, int]:
    """(files, bytes) of the value files in the directory."""
    path = path or multiproc_dir()
    if path is None or not path.is_dir():
        return 0, 0
    n = size = 0
    for entry in os.scandir(path):
        if entry.name.endswith(".db"):
            n += 1
            size += entry.stat().st_size
    return n, size
