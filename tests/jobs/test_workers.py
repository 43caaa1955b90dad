"""Real RQ worker processes: the one-heavy-worker limit, retries, abandoned jobs."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.dispatch import job_enqueue
from jobs.models import Job, JobStatus
from jobs.reconciler import reconcile_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_heavy_jobs_never_overlap(user, start_worker, tmp_path):
    out = tmp_path / "spans.jsonl"
    jobs = [
        services.job_create(owner=user, kind="test_span", params={"out": str(out), "seconds": 0.6}) for _ in range(3)
    ]
    for job in jobs:
        job_enqueue(job=job)
    proc = start_worker("heavy", burst=True)
    proc.wait(timeout=120)
    spans = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda s: s["start"])
    assert len(spans) == 3
    for a, b in zip(spans, spans[1:]):
        assert a["end"] <= b["start"], f"heavy jobs overlapped: {a} {b}"
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.DONE
        assert "working" in job.stage_timings


def test_second_heavy_worker_on_same_host_refuses(start_worker):
    first = start_worker("heavy")
    # Wait until the first one holds the slot (it logs its start-up).
    time.sleep(3)
    assert first.poll() is None
    second = start_worker("heavy", burst=True)
    rc = second.wait(timeout=60)
    output = second.stdout.read()
    assert rc == 2
    assert "refusing to start" in output and "HEAVY_WORKERS_PER_HOST=1" in output
    assert first.poll() is None  # the first one is untouched
    # A default worker is not limited.
    light = start_worker("default", burst=True)
    assert light.wait(timeout=60) == 0


def test_retryable_error_is_retried_then_succeeds(user, start_worker):
    job = services.job_create(owner=user, kind="test_flaky", max_attempts=2)
    job_enqueue(job=job)
    proc = start_worker("heavy", burst=True)
    proc.wait(timeout=120)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, proc.stdout.read()
    assert job.attempts == 2
    assert job.result == {"ok": True}
    types = list(job.events.values_list("type", "to_status"))
    assert ("error", "") in types and ("transition", "queued") in types


def test_retryable_error_without_attempts_left_fails(user, start_worker):
    job = services.job_create(owner=user, kind="test_flaky", max_attempts=1)
    job_enqueue(job=job)
    start_worker("heavy", burst=True).wait(timeout=120)
    job.refresh_from_db()
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "flaky_dependency", 1)


@pytest.mark.parametrize("max_attempts,expected", [(1, JobStatus.FAILED), (2, JobStatus.QUEUED)])
def test_killed_work_horse_is_detected(user, start_worker, tmp_path, max_attempts, expected):
    """SIGKILL the work-horse mid-job: the job never stays `analyzing`."""
    pidfile = tmp_path / "horse.pid"
    job = services.job_create(
        owner=user, kind="test_sleep", params={"pidfile": str(pidfile)}, max_attempts=max_attempts
    )
    job_enqueue(job=job)
    start_worker("heavy")
    assert _wait(lambda: pidfile.exists() and pidfile.read_text(), timeout=60), "the horse never started"
    job.refresh_from_db()
    assert job.status == JobStatus.ANALYZING
    killed_at = time.monotonic()
    os.kill(int(pidfile.read_text()), signal.SIGKILL)

    def handled():
        return (
            Job.objects.get(pk=job.pk).status == JobStatus.FAILED
            or job.events.filter(type="transition", to_status="queued", data__retry=True).exists()
        )

    done = _wait(handled, timeout=120)
    detection_s = time.monotonic() - killed_at
    job.refresh_from_db()
    assert done
    if expected == JobStatus.FAILED:
        assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    else:
        # retried: back on the queue, and picked up again by the same worker
        assert job.status in (JobStatus.QUEUED, JobStatus.ANALYZING)
        assert _wait(lambda: Job.objects.get(pk=job.pk).attempts == 2, timeout=60)
    print(f"abandoned job detected in {detection_s:.2f}s")
    assert detection_s < 120


def test_reconciler_fails_job_with_stale_heartbeat(user, redis_conn):
    """The whole worker died (no RQ parent left to notice): the heartbeat goes stale."""
    job = services.job_create(owner=user, kind="test_sleep", max_attempts=1)
    job = services.job_transition(job=job, to=JobStatus.ANALYZING, count_attempt=True)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    fresh = services.job_create(owner=user, kind="test_sleep", max_attempts=1)
    fresh = services.job_transition(job=fresh, to=JobStatus.ANALYZING, count_attempt=True)
    report = reconcile_jobs()
    assert report.abandoned == [str(job.pk)]
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    assert fresh.status == JobStatus.ANALYZING


def test_reconciler_requeues_job_that_never_reached_redis(user, redis_conn):
    from jobs.dispatch import get_queue

    job = services.job_create(owner=user, kind="test_span", params={"out": "/dev/null"})
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    assert get_queue("heavy").count == 0
    report = reconcile_jobs()
    assert report.requeued == [str(job.pk)]
    assert get_queue("heavy").job_ids == [str(job.pk)]
    # Idempotent: the job is now live in Redis, a second pass leaves it alone.
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(minutes=10))
    assert reconcile_jobs().requeued == []
