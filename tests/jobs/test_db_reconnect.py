"""Job writes survive a lost PostgreSQL connection (fala_clip/dbretry.py).

A real connection is made unusable the way a restart does it — the server ends the
backend (``pg_terminate_backend`` from a second connection) — without restarting
the shared server.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from django.db import DatabaseError, OperationalError, connection, transaction

from fala_clip.dbretry import connection_lost, db_retry, reset_connection
from jobs import services
from jobs.models import Job, JobEvent, JobKind, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _kill_my_connection() -> None:
    """Terminate this thread's backend from another connection (as a restart would)."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # wait until the server has really ended it
        for _ in range(200):
            alive = other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if alive is not None and alive[0] == 0:
                return
            other.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"backend {pid} is still there")


@pytest.fixture(autouse=True)
def _fresh_connection_after():
    """pytest-django flushes the tables after each test on this thread's connection."""
    yield
    reset_connection()


@pytest.fixture
def job(user):
    return services.job_create(owner=user, kind=JobKind.CLIP_PIPELINE)


def _transition_events(job: Job) -> list[str]:
    events = JobEvent.objects.filter(job=job, type=JobEvent.Type.TRANSITION).order_by("id")
    return list(events.values_list("to_status", flat=True))


def test_a_killed_connection_breaks_plain_queries(job):
    # Given a killed connection, a plain query fails (what the work-horse used to meet)
    _kill_my_connection()
    with pytest.raises(OperationalError) as caught:
        Job.objects.filter(pk=job.pk).count()
    assert connection_lost(caught.value)


def test_transition_reconnects_and_applies_once(job):
    _kill_my_connection()
    # When the job moves on a dead connection
    moved = services.job_transition(job=job, to=JobStatus.ANALYZING, count_attempt=True)
    # Then it moved, once, and counted one attempt
    assert moved.status == JobStatus.ANALYZING and moved.attempts == 1
    assert _transition_events(job) == ["queued", "analyzing"]


def test_failure_path_reconnects(job):
    job = services.job_transition(job=job, to=JobStatus.ANALYZING, count_attempt=True)
    _kill_my_connection()
    services.job_refresh(job=job)  # the failure handler's first read
    _kill_my_connection()
    failed = services.job_fail(job=job, code="disk_full", message="no space")
    assert failed.status == JobStatus.FAILED and failed.error_code == "disk_full"
    assert _transition_events(job) == ["queued", "analyzing", "failed"]


def test_heartbeat_stage_result_and_log_reconnect(job):
    job = services.job_transition(job=job, to=JobStatus.ANALYZING)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=None)
    _kill_my_connection()
    services.job_heartbeat(job_id=job.pk)
    _kill_my_connection()
    services.job_set_stage(job=job, stage="decode")
    _kill_my_connection()
    services.job_set_result(job=job, ok=True)
    _kill_my_connection()
    services.job_log(job=job, message="still here")
    row = Job.objects.get(pk=job.pk)
    assert row.heartbeat_at is not None and row.stage == "decode" and row.result == {"ok": True}
    assert JobEvent.objects.filter(job=job, type=JobEvent.Type.STAGE, stage="decode").count() == 1
    assert JobEvent.objects.filter(job=job, message="still here").count() == 1


def test_progress_drops_one_write_and_the_next_reconnects(job):
    job = services.job_transition(job=job, to=JobStatus.ANALYZING)
    _kill_my_connection()
    services.job_set_progress(job=job, percent=10.0)  # dropped, never raises
    services.job_set_progress(job=job, percent=20.0)
    assert Job.objects.get(pk=job.pk).progress == {"percent": 20.0}


def test_nothing_is_retried_inside_the_callers_transaction(job):
    calls = []

    def op(attempt: int) -> int:
        calls.append(attempt)
        return Job.objects.filter(pk=job.pk).count()

    with pytest.raises(DatabaseError), transaction.atomic():
        _kill_my_connection()
        db_retry(op, what="test")
    assert calls == [0]


def test_an_error_that_is_not_a_lost_connection_is_not_retried(job):
    calls = []

    def slow(attempt: int) -> None:
        calls.append(attempt)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 10")
            cursor.execute("SELECT pg_sleep(1)")

    # Given a statement timeout (an OperationalError that leaves the connection usable)
    with pytest.raises(OperationalError) as caught:
        db_retry(slow, what="test")
    # Then it is raised at once, and the connection goes on working
    assert calls == [0] and not connection_lost(caught.value)
    assert Job.objects.filter(pk=job.pk).count() == 1
