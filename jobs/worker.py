"""Our RQ worker: the per-host heavy-worker guard, fast maintenance, fork hygiene."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import close_old_connections, connections
from rq import Worker

from fala_clip import promdir

log = logging.getLogger(__name__)


class HeavyWorkerLimitReached(RuntimeError):
    pass


def acquire_heavy_slot(lock_dir: Path | None = None, limit: int | None = None) -> IO[str]:
    """Take one of the host's ``HEAVY_WORKERS_PER_HOST`` slots or refuse.

    A slot is an exclusive ``flock`` on a file in a local directory: the kernel
    drops it when the process dies, so a crashed worker never blocks its
    successor, and two workers on one host can never both hold it.  The
    returned file must stay open for the life of the worker.
    """
    lock_dir = Path(lock_dir or settings.WORKER_LOCK_DIR)
    limit = settings.HEAVY_WORKERS_PER_HOST if limit is None else limit
    lock_dir.mkdir(parents=True, exist_ok=True)
    holders = []
    for slot in range(limit):
        path = lock_dir / f"heavy-worker-{slot}.lock"
        fh = open(path, "a+")  # noqa: SIM115 - held for the worker's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder writes its pid right after taking the lock: a worker started at the same
            # moment can look in between, so give it a moment to appear (at most 0.5 s).
            holder = ""
            for _ in range(50):
                fh.seek(0)
                holder = fh.read().strip()
                if holder:
                    break
                time.sleep(0.01)
            holders.append(holder or "?")
            fh.close()
            continue
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh
    raise HeavyWorkerLimitReached(
        f"refusing to start: this host ({socket.gethostname()}) already runs {limit} heavy worker(s) "
        f"(HEAVY_WORKERS_PER_HOST={limit}; held by pid {', '.join(holders)}). "
        "Heavy work is limited to one process per host; add a host to scale out."
    )


def preload_modules(names: Iterable[str]) -> dict[str, float]:
    """Import ``names`` in this process, before any work-horse is forked; seconds per module.

    RQ forks one work-horse per job, and a horse inherits every module its worker
    imported, so a module imported here is paid for once per worker instead of
    once per job.  This matters for the heavy libraries the analysers import
    lazily (torch, faster_whisper, librosa.beat, whose ``__beat_local_score``
    kernel numba compiles again in every process: it is not disk-cached).  Only
    imports: no model is loaded and no thread pool started before the fork.  A
    module that fails to import is logged and skipped; the job that needs it
    will fail with the real error.
    """
    from fala_clip.media.warmup import import_modules

    t_all = time.perf_counter()
    seconds = import_modules(names, what="preload", logger=log)
    if seconds:
        slowest = ", ".join(f"{n} {s:.1f}s" for n, s in sorted(seconds.items(), key=lambda kv: -kv[1])[:5])
        log.info("preloaded %d modules in %.1f s (%s)", len(seconds), time.perf_counter() - t_all, slowest)
    return seconds


class FalaWorker(Worker):
    """RQ worker that reconciles jobs during maintenance and forks cleanly."""

    last_horse_pid = 0

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        # The horse must not inherit the parent's DB socket.
        connections.close_all()
        super().fork_work_horse(job, queue)
        self.last_horse_pid = self._horse_pid

    def execute_job(self, job: Any, queue: Any) -> None:
        self.last_horse_pid = 0
        try:
            super().execute_job(job, queue)
        finally:
            # The horse has been reaped: fold its counters and histograms into the
            # archive so the metrics directory does not grow by one horse per job.
            if self.last_horse_pid:
                try:
                    promdir.fold_process(self.last_horse_pid)
                except Exception:
                    log.exception("could not fold the metrics of work-horse %s", self.last_horse_pid)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        from jobs.reconciler import reconcile_jobs

        try:
            close_old_connections()
            reconcile_jobs()
        except Exception:
            log.exception("reconciler failed during maintenance")
        finally:
            connections.close_all()
        try:
            promdir.fold_dead()  # e.g. a horse killed while this worker was stopping
        except Exception:
            log.exception("could not fold dead processes' metrics")


def build_worker(queue_name: str, **kwargs: Any) -> FalaWorker:
    import django_rq

    from jobs.runner import on_horse_killed

    queue = django_rq.get_queue(queue_name)
    return FalaWorker(
        [queue],
        connection=queue.connection,
        maintenance_interval=settings.WORKER_MAINTENANCE_INTERVAL_S,
        work_horse_killed_handler=on_horse_killed,
        **kwargs,
    )
