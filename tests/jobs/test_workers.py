"""Real RQ worker processes: the one-heavy-worker limit, retries, abandoned jobs."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs import services
from jobs.dispatch import job_enqueue
from jobs.models import Job, JobStatus
from jobs.reconciler import reconcile_jobs
from tests.procwatch import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _slot_holder(lock_dir: Path, slot: int = 0) -> int | None:
    """The pid holding heavy slot ``slot`` (its ``flock`` is taken and the file names it), else None."""
    path = lock_dir / f"heavy-worker-{slot}.lock"
    if not path.exists():
        return None
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = fh.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


def _run_span_jobs(user, out: Path, *, count: int, seconds: float) -> list[dict]:
    """Queue ``count`` heavy jobs that record their [start, end]; wait until all are done; the spans by start."""
    params = {"out": str(out), "seconds": seconds}
    jobs = [services.job_create(owner=user, kind="test_span", params=params) for _ in range(count)]
    for job in jobs:
        job_enqueue(job=job)
    ids = [j.pk for j in jobs]
    done = wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.DONE).count() == count, timeout=120)
    assert done, list(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", "error_message"))
    return sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda s: s["start"])


def _overlaps(spans: list[dict]) -> list[tuple[dict, dict]]:
    return [(a, b) for a, b in zip(spans, spans[1:]) if b["start"] < a["end"]]


def test_two_heavy_workers_started_together_one_refuses_and_jobs_dont_overlap(user, start_worker, worker_env, tmp_path):
    lock_dir = Path(worker_env["WORKER_LOCK_DIR"])
    # Given two heavy workers started at the same moment on one host
    a, b = start_worker("heavy"), start_worker("heavy")
    # Then exactly one of them exits, with status 2 and the refusal
    refused = wait_until(lambda: [p for p in (a, b) if p.poll() is not None], timeout=60)
    assert len(refused) == 1, "neither worker exited"
    (loser,) = refused
    (winner,) = [p for p in (a, b) if p is not loser]
    output = loser.stdout.read()
    assert loser.returncode == 2, output
    assert "refusing to start" in output and "HEAVY_WORKERS_PER_HOST=1" in output
    assert f"held by pid {winner.pid}" in output
    # and the other holds the one slot and keeps running
    assert wait_until(lambda: _slot_holder(lock_dir) == winner.pid, timeout=30)
    # When several jobs are queued for it
    spans = _run_span_jobs(user, tmp_path / "spans.jsonl", count=4, seconds=0.4)
    # Then they all finish, one after another: no two recorded intervals overlap
    assert len(spans) == 4 and _overlaps(spans) == []
    assert winner.poll() is None and _slot_holder(lock_dir) == winner.pid


def test_the_overlap_measure_sees_overlap_when_two_heavy_workers_are_allowed(user, start_worker, worker_env, tmp_path):
    """Control for the test above: with two slots per host both workers run, and the same spans overlap."""
    lock_dir = Path(worker_env["WORKER_LOCK_DIR"])
    two = {"HEAVY_WORKERS_PER_HOST": "2"}
    a, b = start_worker("heavy", extra_env=two), start_worker("heavy", extra_env=two)
    assert wait_until(lambda: {_slot_holder(lock_dir, 0), _slot_holder(lock_dir, 1)} == {a.pid, b.pid}, timeout=60)
    spans = _run_span_jobs(user, tmp_path / "spans.jsonl", count=2, seconds=1.5)
    assert len(spans) == 2 and len(_overlaps(spans)) == 1


def test_a_heavy_worker_started_while_one_runs_refuses(start_worker, worker_env):
    lock_dir = Path(worker_env["WORKER_LOCK_DIR"])
    first = start_worker("heavy")
    # Given the first worker holds the slot (its flock is taken and the lock file names it)
    assert wait_until(lambda: _slot_holder(lock_dir) == first.pid, timeout=60), "the first worker never took the slot"
    # When a second heavy worker starts, then it refuses with status 2
    second = start_worker("heavy", burst=True)
    rc = second.wait(timeout=60)
    output = second.stdout.read()
    assert rc == 2
    assert "refusing to start" in output and "HEAVY_WORKERS_PER_HOST=1" in output
    assert first.poll() is None and _slot_holder(lock_dir) == first.pid  # the first one is untouched
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
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=60), "the horse never started"
    job.refresh_from_db()
    assert job.status == JobStatus.ANALYZING
    killed_at = time.monotonic()
    os.kill(int(pidfile.read_text()), signal.SIGKILL)

    def handled():
        return (
            Job.objects.get(pk=job.pk).status == JobStatus.FAILED
            or job.events.filter(type="transition", to_status="queued", data__retry=True).exists()
        )

    done = wait_until(handled, timeout=120)
    detection_s = time.monotonic() - killed_at
    job.refresh_from_db()
    assert done
    if expected == JobStatus.FAILED:
        assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    else:
        # retried: back on the queue, and picked up again by the same worker
        assert job.status in (JobStatus.QUEUED, JobStatus.ANALYZING)
        assert wait_until(lambda: Job.objects.get(pk=job.pk).attempts == 2, timeout=60)
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


def test_a_killed_heavy_worker_takes_its_horse_along_and_frees_the_host_slot(user, start_worker, worker_env, tmp_path):
    """SIGKILL the heavy worker (not its horse) mid-job: the horse dies with it (parent-death
    signal), it never held the lock file open, and a new heavy worker is not refused."""
    from tests.procwatch import proc_alive

    lock_dir = Path(worker_env["WORKER_LOCK_DIR"])
    pidfile = tmp_path / "horse.pid"
    job = services.job_create(owner=user, kind="test_sleep", params={"pidfile": str(pidfile)})
    job_enqueue(job=job)
    worker = start_worker("heavy")
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=60), "the horse never started"
    horse = int(pidfile.read_text())
    lock = str(lock_dir / "heavy-worker-0.lock")
    horse_files = {os.readlink(fd) for fd in Path(f"/proc/{horse}/fd").iterdir()}
    assert lock not in horse_files, "the work-horse inherited the heavy-worker lock"
    assert _slot_holder(lock_dir) == worker.pid

    os.kill(worker.pid, signal.SIGKILL)
    assert wait_until(lambda: not proc_alive(horse), timeout=10), "the work-horse outlived its worker"
    # The kernel drops the dead worker's flock as its exit completes (polled, not assumed instant).
    assert wait_until(lambda: _slot_holder(lock_dir) is None, timeout=10), "the host slot stayed held"
    successor = start_worker("heavy")
    assert wait_until(lambda: _slot_holder(lock_dir) == successor.pid, timeout=60), "the restarted worker was refused"


def test_reconciler_requeues_a_queued_job_whose_entry_a_redis_restart_lost(user, redis_conn, settings):
    """A queued job enqueued a moment ago is left alone (its entry may be on its way); once
    JOB_REQUEUE_AFTER_S has passed and Redis has no entry for it, it is enqueued again.  An
    active job whose RQ entry vanished but whose heartbeat is fresh is never enqueued again."""
    from jobs.dispatch import get_queue

    settings.JOB_REQUEUE_AFTER_S = 5
    job = services.job_create(owner=user, kind="test_span", params={"out": "/dev/null"})
    job_enqueue(job=job)
    running = services.job_create(owner=user, kind="test_sleep")
    job_enqueue(job=running)
    running = services.job_transition(job=running, to=JobStatus.ANALYZING, count_attempt=True)
    redis_conn.flushdb()  # Redis restarted without its data

    assert reconcile_jobs().requeued == []  # within the grace
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(seconds=6))
    assert reconcile_jobs().requeued == [str(job.pk)]
    assert get_queue("heavy").job_ids == [str(job.pk)]
    running.refresh_from_db()
    assert (running.status, running.attempts) == (JobStatus.ANALYZING, 1)
