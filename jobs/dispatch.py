"""Putting jobs on queues.

A job is enqueued only after the transaction that created it commits (so a
worker never picks up a row it cannot see), with a deterministic RQ job id
derived from our Job id.  In the embedded local mode (``JOBS_EAGER``: no
Redis) the job runs in-process right after commit instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import redis.exceptions
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import Job

log = logging.getLogger(__name__)

#: What a Redis outage looks like from redis-py: the server is gone (refused, reset) or hangs.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def rq_job_id(job: Job) -> str:
    """The RQ id of the current attempt: the Job id, suffixed for retries.

    A retry gets a fresh id so that RQ's bookkeeping of a killed attempt (which
    runs after our own handler) can never touch the new one.
    """
    return str(job.id) if job.attempts == 0 else f"{job.id}_a{job.attempts}"


def get_queue(name: str) -> Any:
    import django_rq

    return django_rq.get_queue(name)


_eager = threading.local()


@contextlib.contextmanager
def eager_jobs_deferred() -> Iterator[list[str]]:
    """In eager mode, collect the ids of jobs committed inside the block instead of running them.

    The caller runs them later with ``jobs.runner.run_job`` (``manage.py
    clip`` lets the clip pipeline analyse its track during the video decode,
    then runs the track's own job, which finds the analysis stored).
    """
    ids: list[str] = []
    _eager.deferred = ids
    try:
        yield ids
    finally:
        _eager.deferred = None


def _enqueue_now(job_id: Any) -> None:
    job = Job.objects.get(pk=job_id)
    deferred = getattr(_eager, "deferred", None)
    if settings.JOBS_EAGER and deferred is not None:
        deferred.append(str(job.pk))
        return
    if settings.JOBS_EAGER:
        from jobs.runner import run_job

        run_job(str(job.pk))
        return
    queue = get_queue(job.queue)
    queue.enqueue(
        "jobs.runner.run_job",
        str(job.pk),
        job_id=rq_job_id(job),
        job_timeout=settings.RQ_QUEUES[job.queue]["DEFAULT_TIMEOUT"],
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"{job.kind} {job.pk}",
    )
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())
    log.info("enqueued job %s on %s as %s", job.pk, job.queue, rq_job_id(job))


def _enqueue_safely(job_id: Any) -> None:
    try:
        _enqueue_now(job_id)
    except Exception:
        if settings.JOBS_EAGER:
            raise
        # The row stays ``queued``; the reconciler enqueues it again later.
        log.exception("could not enqueue job %s now; the reconciler will retry", job_id)


def job_enqueue(*, job: Job) -> None:
    """Enqueue ``job`` once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue_safely(job.pk))


def rq_job_is_live(job: Job) -> bool:
    """True when RQ holds a queued/started/scheduled job for this attempt."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    queue = get_queue(job.queue)
    try:
        rq_job = RQJob.fetch(rq_job_id(job), connection=queue.connection)
    except NoSuchJobError:
        return False
    status = rq_job.get_status(refresh=False)
    return status in ("queued", "started", "scheduled", "deferred")
