"""The reconciler: makes PostgreSQL's view of jobs and RQ's agree.

* ``queued`` jobs that are not in Redis (the process died between commit and
  enqueue, Redis was down, or Redis restarted and lost its data) are enqueued
  again as soon as ``JOB_REQUEUE_AFTER_S`` (5 s) have passed since they were
  queued or enqueued: that grace covers a job committed a moment ago whose
  enqueue (``on_commit``) is still on its way;
* active jobs whose heartbeat is stale (the whole worker died, not only its
  work-horse) are retried or failed with ``worker_lost``.  An active job is
  never enqueued again because its RQ entry vanished: its heartbeat (in
  PostgreSQL) says whether it still runs, so a Redis restart never makes a
  running job run twice.

It runs in every worker's maintenance step (every
``WORKER_MAINTENANCE_INTERVAL_S``) and from the scheduler.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.dispatch import REDIS_DOWN, job_enqueue, rq_job_is_live
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.runner import job_handle_abandoned

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)


def reconcile_jobs() -> ReconcileReport:
    report = ReconcileReport()
    now = timezone.now()
    requeue_cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    stale_cutoff = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)

    waiting = Job.objects.filter(status=JobStatus.QUEUED).filter(
        Q(enqueued_at__isnull=True, updated_at__lt=requeue_cutoff) | Q(enqueued_at__lt=requeue_cutoff)
    )
    try:
        for job in waiting:
            if not rq_job_is_live(job):
                log.warning("job %s is queued but not in Redis: enqueuing again", job.pk)
                job_enqueue(job=job)
                report.requeued.append(str(job.pk))
    except REDIS_DOWN as exc:
        # Nothing can be enqueued now; the next run (one maintenance interval) tries again.
        # The stale-heartbeat check below needs only PostgreSQL: it still runs.
        log.warning("reconciler: Redis unreachable, queued jobs not checked (%s)", exc)

    stale = Job.objects.filter(status__in=list(ACTIVE_STATUSES), heartbeat_at__lt=stale_cutoff)
    for job in stale:
        job_handle_abandoned(
            job_id=job.pk, reason=f"no heartbeat since {job.heartbeat_at:%H:%M:%S}", detected_by="stale_heartbeat"
        )
        report.abandoned.append(str(job.pk))
    return report


def scheduled_reconcile() -> dict[str, list[str]]:
    r = reconcile_jobs()
    return {"requeued": r.requeued, "abandoned": r.abandoned}
