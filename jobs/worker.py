"""Our RQ worker: the per-host heavy-worker guard, fast maintenance, fork hygiene."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connections
from rq import Worker

from fala_clip import promdir
from fala_clip.media.procs import die_with_parent
from jobs.dispatch import REDIS_DOWN

T = TypeVar("T")

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
    """RQ worker that reconciles jobs during maintenance, forks cleanly and outlives Redis outages.

    **Redis outages.** RQ's own loop retries only the blocking dequeue; any other Redis call
    that fails (a heartbeat while a horse runs, the state after a job, the suspension check)
    ends the worker and, worse, leaves its horse running without a parent.  Here every such
    bookkeeping call logs and carries on (:meth:`_redis_best_effort`): PostgreSQL is the source
    of truth for jobs, RQ's records are rebuilt on the next heartbeat once Redis answers again.

    **The horse never outlives its worker.** It is armed with ``PR_SET_PDEATHSIG`` (SIGKILL when
    the worker dies) and closes its copy of the heavy-worker lock (``heavy_slot``) right after
    the fork: an ``flock`` belongs to the open file, shared through ``fork()``, so a horse that
    kept it would hold the host's slot after its worker died and refuse the restarted one.
    """

    last_horse_pid = 0
    #: The heavy-worker lock file (``acquire_heavy_slot``) held by this worker, if any.
    heavy_slot: IO[str] | None = None
    # RQ waits up to 60 s between reconnection attempts; a few seconds is enough here, so that a
    # worker resumes soon after Redis is back.
    max_connection_wait_time = 5.0
    _redis_down_since: float | None = None

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks on an empty queue for worker_ttl - 15 s (405 s) and runs maintenance only
        # between two waits: an idle worker would reconcile every ~7 min.  Wake up once per
        # maintenance interval instead (a lost queue entry is found within one interval).
        return max(1, min(int(super().dequeue_timeout), int(self.maintenance_interval)))

    def _redis_best_effort(self, what: str, call: Callable[[], T]) -> T | None:
        try:
            result = call()
        except REDIS_DOWN as exc:
            if self._redis_down_since is None:
                self._redis_down_since = time.monotonic()
                log.warning("worker %s: Redis unreachable (%s: %s); carrying on", self.name, what, exc)
            return None
        if self._redis_down_since is not None:
            log.warning(
                "worker %s: Redis reachable again after %.1f s", self.name, time.monotonic() - self._redis_down_since
            )
            self._redis_down_since = None
        return result

    # RQ's bookkeeping calls in the worker process, made best-effort (see the class docstring).
    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # queued on a pipeline: the pipeline's execute() is what fails
            super().heartbeat(timeout, pipeline)
            return
        self._redis_best_effort("heartbeat", lambda: super(FalaWorker, self).heartbeat(timeout))

    def maintain_heartbeats(self, job: Any) -> None:
        self._redis_best_effort("job heartbeat", lambda: super(FalaWorker, self).maintain_heartbeats(job))

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline)
            return
        self._state = state
        self._redis_best_effort("state", lambda: super(FalaWorker, self).set_state(state))

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().set_current_job_working_time(current_job_working_time, pipeline)
            return
        self.current_job_working_time = current_job_working_time
        self._redis_best_effort(
            "working time", lambda: super(FalaWorker, self).set_current_job_working_time(current_job_working_time)
        )

    def check_for_suspension(self, burst: bool) -> None:
        self._redis_best_effort("suspension check", lambda: super(FalaWorker, self).check_for_suspension(burst))

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        # The horse must not inherit the parent's DB socket.
        connections.close_all()
        # Built here, in the worker: it checks in the horse that its parent is still this process.
        self._arm_death_signal = die_with_parent()
        super().fork_work_horse(job, queue)
        self.last_horse_pid = self._horse_pid

    def main_work_horse(self, job: Any, queue: Any) -> None:
        # In the horse, right after fork(): die with the worker, and let go of the host's lock.
        arm = getattr(self, "_arm_death_signal", None)
        if arm is not None:
            arm()  # SIGKILL when the worker dies; exits at once if it already has
        if self.heavy_slot is not None:
            try:
                self.heavy_slot.close()  # the worker's descriptor keeps the lock; this copy must not
            except OSError:
                pass
            self.heavy_slot = None
        super().main_work_horse(job, queue)

    def execute_job(self, job: Any, queue: Any) -> None:
        self.last_horse_pid = 0
        try:
            try:
                super().execute_job(job, queue)
            except REDIS_DOWN as exc:
                # RQ's bookkeeping after the horse (job status, failure registry) needs Redis.
                # The job's outcome is in PostgreSQL; never leave a running horse unwatched.
                log.warning("worker %s: Redis unreachable around job %s (%s)", self.name, job.id, exc)
                self._wait_for_horse_quietly()
        finally:
            # The horse has been reaped: fold its counters and histograms into the
            # archive so the metrics directory does not grow by one horse per job.
            if self.last_horse_pid:
                try:
                    promdir.fold_process(self.last_horse_pid)
                except Exception:
                    log.exception("could not fold the metrics of work-horse %s", self.last_horse_pid)

    def _wait_for_horse_quietly(self) -> None:
        pid = self._horse_pid
        if not pid:
            return
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        self._horse_pid = 0

    def run_maintenance_tasks(self) -> None:
        # RQ's registry cleaning needs Redis; our reconciler needs only PostgreSQL for its
        # active-job checks, so run it even when Redis is down.
        self._redis_best_effort("registry cleaning", lambda: super(FalaWorker, self).run_maintenance_tasks())
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


def build_worker(queue_name: str, *, heavy_slot: IO[str] | None = None, **kwargs: Any) -> FalaWorker:
    import django_rq

    from jobs.runner import on_horse_killed

    queue = django_rq.get_queue(queue_name)
    worker = FalaWorker(
        [queue],
        connection=queue.connection,
        maintenance_interval=settings.WORKER_MAINTENANCE_INTERVAL_S,
        work_horse_killed_handler=on_horse_killed,
        **kwargs,
    )
    worker.heavy_slot = heavy_slot
    return worker
