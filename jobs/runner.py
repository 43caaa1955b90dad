"""The runner: the one RQ entry point every job goes through.

It moves the Job through its states, hands the handler a :class:`JobContext`
(stages with timings, progress, events), keeps a heartbeat while the handler
runs, records errors and retries only retryable ones.  Handlers are looked up
by kind in ``settings.JOB_HANDLERS``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection
from django.utils.module_loading import import_string

from fala_clip import telemetry
from fala_clip.dbretry import close_if_lost, connection_lost, reset_connection, wait_for_database
from fala_clip.diskspace import is_disk_full
from fala_clip.logging import bind
from jobs import services
from jobs.cleaner import remove_job_workspace
from jobs.errors import ConcurrentTransition, DiskFull, IllegalTransition, JobError
from jobs.models import ACTIVE_STATUSES, Job, JobEvent, JobStatus

log = logging.getLogger(__name__)


class JobContext:
    """What a handler gets: its job, and ways to report stages and progress."""

    def __init__(self, job: Job):
        self.job = job

    @contextlib.contextmanager
    def stage(self, name: str, message: str = "") -> Iterator[None]:
        """Run a step: sets ``stage``, logs an event, records its wall time."""
        services.job_set_stage(job=self.job, stage=name, message=message)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            services.job_record_stage_timing(job=self.job, stage=name, seconds=time.perf_counter() - t0)

    def progress(self, *, log_event: bool = False, **values: Any) -> None:
        services.job_set_progress(job=self.job, log_event=log_event, **values)

    def transition(self, to: str, **kwargs: Any) -> None:
        self.job = services.job_transition(job=self.job, to=to, **kwargs)

    def log(self, message: str, **data: Any) -> None:
        services.job_log(job=self.job, message=message, data=data)

    def result(self, **values: Any) -> None:
        services.job_set_result(job=self.job, **values)


class _Heartbeat(threading.Thread):
    """Writes ``heartbeat_at`` while the handler runs (own DB connection)."""

    def __init__(self, job_id: Any, interval: float):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id = job_id
        self.interval = interval
        self.stop_event = threading.Event()

    def run(self) -> None:
        with bind(job_id=str(self.job_id)):
            self._beat()

    def _beat(self) -> None:
        try:
            while not self.stop_event.wait(self.interval):
                try:
                    services.job_heartbeat(job_id=self.job_id)  # reconnects after a restart
                except Exception as exc:  # a missed beat is not fatal; the next one may work
                    close_if_lost(exc)  # never keep a dead connection for the next beat
                    log.exception("heartbeat failed for job %s", self.job_id)
        finally:
            connection.close()


def run_job(job_id: str) -> None:
    """RQ entry point.  Never raises: the outcome lives in PostgreSQL.

    Every log line of the job (worker, analysers, ffmpeg stage logs) carries its
    ``job_id`` and the ``request_id`` of the API call that created it.
    """
    with bind(job_id=str(job_id)):
        _run_job(job_id)


def _run_job(job_id: str) -> None:
    close_old_connections()
    try:
        job = Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        log.warning("job %s vanished before it ran", job_id)
        return
    with bind(request_id=str((job.params or {}).get("request_id") or "")):
        _run_claimed(job)


def _run_claimed(job: Job) -> None:
    job_id = job.pk
    if job.status != JobStatus.QUEUED:
        # Duplicate delivery, or a job already handled elsewhere: do nothing.
        log.info("job %s is %s, not queued; skipping", job.pk, job.status)
        return
    # Up before the claim commits: /metrics reads the database before the processes' gauges
    # (metrics.apis.build_registry), so a scrape that reads the job as running finds it.
    in_process = telemetry.JOBS_IN_PROCESS.labels(job.kind)
    in_process.inc()
    try:
        job = services.job_transition(job=job, to=JobStatus.ANALYZING, count_attempt=True, message="started")
    except IllegalTransition:
        in_process.dec()
        log.info("job %s was claimed by someone else", job_id)
        return
    except BaseException:
        in_process.dec()
        raise
    ctx = JobContext(job)
    beat = _Heartbeat(job.pk, settings.JOB_HEARTBEAT_INTERVAL_S)
    beat.start()
    try:
        handler = import_string(settings.JOB_HANDLERS[job.kind])
        _run_handler(ctx, handler)
        services.job_refresh(job=ctx.job)
        if ctx.job.status in ACTIVE_STATUSES:
            ctx.transition(JobStatus.DONE, message="finished")
            # Delivered: every result is in the database or storage.
            remove_job_workspace(job=ctx.job)
    except Exception as exc:  # noqa: BLE001 - every failure must be recorded
        _handle_failure(ctx.job, exc)
    finally:
        in_process.dec()
        beat.stop_event.set()
        beat.join(timeout=5)


def _lost_database(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what it was raised from) is a lost database connection."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (OperationalError, InterfaceError)) and connection_lost(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _run_handler(ctx: JobContext, handler: Any) -> None:
    """Run the handler; after a lost database connection, reconnect and resume it in place.

    A PostgreSQL restart kills the work-horse's connection; the job's own writes
    (``jobs.services``) reconnect by themselves, but any other query of a step
    raises.  That is an infrastructure blip, not a failure of the job: wait for the
    database, then run the handler again in the same attempt — its steps resume from
    what they stored (analyses, suggestions, rendered variants) — at most
    ``JOB_DB_RESUME_LIMIT`` times.
    """
    resumes = 0
    while True:
        try:
            handler(ctx)
            return
        except Exception as exc:
            if resumes >= settings.JOB_DB_RESUME_LIMIT or not _lost_database(exc):
                raise
            resumes += 1
            log.warning("job %s: database connection lost (%s); resuming (%d)", ctx.job.pk, exc, resumes)
            reset_connection()
            if not wait_for_database():
                raise
            services.job_refresh(job=ctx.job)
            if ctx.job.status not in ACTIVE_STATUSES:
                log.warning("job %s left the active states while the database was away", ctx.job.pk)
                return
            services.job_log(
                job=ctx.job,
                message="database connection lost; resumed where the job stopped",
                data={"code": "database_unavailable", "resume": resumes},
            )


def _handle_failure(job: Job, exc: BaseException) -> None:
    lost_database = _lost_database(exc)  # asked before the refresh below reconnects
    try:
        services.job_refresh(job=job)  # reconnects: the failure may be the database's
    except DatabaseError:
        # Nothing can be recorded; the stale-heartbeat check takes the job over once the
        # database is back (the heartbeat stops with this attempt).
        log.exception("job %s failed and the database is unreachable: %r", job.pk, exc)
        return
    if job.status not in ACTIVE_STATUSES:
        log.warning("job %s failed after leaving the active states: %r", job.pk, exc)
        return
    if is_disk_full(exc) and not (isinstance(exc, JobError) and exc.code == "disk_full"):
        # The detail (which file, which command) stays in the logs; the artist's message names no path.
        log.error("job %s: disk full: %s", job.pk, "".join(traceback.format_exception(exc)))
        exc = DiskFull()
    if isinstance(exc, JobError):
        code, message, retryable = exc.code, exc.message, exc.retryable
        # The full detail for operators; the API shows the message without server paths.
        log.warning("job %s failed with %s: %s", job.pk, code, message, exc_info=exc.__cause__ is not None)
    else:
        code, message, retryable = "internal_error", f"{type(exc).__name__}: {exc}", False
        log.error("job %s crashed:\n%s", job.pk, "".join(traceback.format_exception(exc)))
    if lost_database:
        # Still lost after the in-place resumes: an infrastructure fault, retried (never worker_lost).
        code, retryable = "database_unavailable", True
        message = "The database connection was lost while the job ran."
    services.job_log(job=job, message=message, type=JobEvent.Type.ERROR, data={"code": code})
    if retryable and job.attempts < job.max_attempts:
        job_retry(job=job, reason=f"{code}: {message}", code=code)
    else:
        with contextlib.suppress(ConcurrentTransition):
            job = services.job_fail(job=job, code=code, message=message)
        if code == "disk_full" and job.status == JobStatus.FAILED:
            # Give the space back now (a failed job's workspace is otherwise kept for debugging).
            try:
                remove_job_workspace(job=job)
            except OSError:
                log.exception("job %s: could not remove the workspace", job.pk)


def job_retry(*, job: Job, reason: str, code: str = "") -> Job:
    """Put an active job back on its queue (its steps resume from what they stored).

    ``code``: the error code that caused the retry (the bounded ``reason`` label of
    ``fala_job_retries_total``).
    """
    from jobs.dispatch import job_enqueue

    job = services.job_transition(
        job=job, to=JobStatus.QUEUED, message=f"retry: {reason}", data={"retry": True, "code": code or "unknown"}
    )
    job_enqueue(job=job)
    return job


def job_handle_abandoned(*, job_id: Any, reason: str, detected_by: str = "stale_heartbeat") -> Job | None:
    """A job whose worker died: retry it if attempts remain, else fail it.

    Called from the heavy worker the moment a work-horse dies, and by the
    reconciler for jobs whose heartbeat went stale (whole worker lost).
    """
    with bind(job_id=str(job_id)):
        return _handle_abandoned(job_id, reason, detected_by)


def _handle_abandoned(job_id: Any, reason: str, detected_by: str) -> Job | None:
    try:
        job = Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        return None
    if job.status not in ACTIVE_STATUSES:
        return job
    log.warning("job %s: worker lost (%s): %s", job_id, detected_by, reason)
    telemetry.WORKER_LOST.labels(job.kind, detected_by).inc()
    try:
        if job.attempts < job.max_attempts:
            services.job_log(job=job, message=f"worker lost: {reason}", type=JobEvent.Type.ERROR)
            return job_retry(job=job, reason=f"worker_lost: {reason}", code="worker_lost")
        return services.job_fail(job=job, code="worker_lost", message=f"The worker running this job died: {reason}")
    except ConcurrentTransition:
        return Job.objects.get(pk=job_id)


def on_horse_killed(rq_job: Any, retpid: int, ret_val: int, rusage: Any) -> None:
    """RQ ``work_horse_killed_handler``: runs in the worker when a horse dies."""
    close_old_connections()
    job_id = str(rq_job.id).split("_a")[0]
    job_handle_abandoned(
        job_id=job_id, reason=f"work-horse {retpid} exited with status {ret_val}", detected_by="horse_killed"
    )
