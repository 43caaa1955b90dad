"""The job state machine: legal moves, illegal moves, concurrent moves."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from jobs import services
from jobs.errors import ConcurrentTransition, IllegalTransition
from jobs.models import Job, JobEvent, JobKind, JobStatus

S = JobStatus
ALL = [S.QUEUED, S.ANALYZING, S.RENDERING, S.DONE, S.FAILED]

LEGAL_PIPELINE = {
    (S.QUEUED, S.ANALYZING),
    (S.QUEUED, S.FAILED),
    (S.ANALYZING, S.RENDERING),
    (S.ANALYZING, S.DONE),
    (S.ANALYZING, S.FAILED),
    (S.ANALYZING, S.QUEUED),
    (S.RENDERING, S.DONE),
    (S.RENDERING, S.FAILED),
    (S.RENDERING, S.QUEUED),
}
LEGAL_MUSIC = LEGAL_PIPELINE - {(S.ANALYZING, S.RENDERING)}


def _job_in(user, kind: str, status: str) -> Job:
    job = services.job_create(owner=user, kind="clip_pipeline")
    Job.objects.filter(pk=job.pk).update(status=status, kind=kind)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("kind,legal", [(JobKind.CLIP_PIPELINE, LEGAL_PIPELINE), (JobKind.MUSIC_ANALYSIS, LEGAL_MUSIC)])
@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", ALL)
def test_every_transition_is_allowed_or_rejected_without_change(user, kind, legal, src, dst):
    job = _job_in(user, kind, src)
    events_before = JobEvent.objects.filter(job=job).count()
    if (src, dst) in legal:
        job = services.job_transition(job=job, to=dst, error_code="x" if dst == S.FAILED else "")
        assert job.status == dst
        assert getattr(job, f"{dst}_at") is not None
        ev = JobEvent.objects.filter(job=job).order_by("-id").first()
        assert (ev.from_status, ev.to_status) == (src, dst)
        assert JobEvent.objects.filter(job=job).count() == events_before + 1
    else:
        before = Job.objects.values().get(pk=job.pk)
        with pytest.raises(IllegalTransition):
            services.job_transition(job=job, to=dst)
        assert Job.objects.values().get(pk=job.pk) == before
        assert JobEvent.objects.filter(job=job).count() == events_before


@pytest.mark.django_db
def test_failed_transition_records_error(user):
    job = _job_in(user, JobKind.CLIP_PIPELINE, S.ANALYZING)
    job = services.job_fail(job=job, code="corrupt_media", message="moov atom not found")
    assert (job.status, job.error_code, job.error_message) == (S.FAILED, "corrupt_media", "moov atom not found")
    assert job.failed_at is not None


@pytest.mark.django_db
def test_stale_in_memory_status_is_rejected(user):
    job = _job_in(user, JobKind.CLIP_PIPELINE, S.QUEUED)
    stale = Job.objects.get(pk=job.pk)
    services.job_transition(job=job, to=S.ANALYZING)
    with pytest.raises(ConcurrentTransition):
        services.job_transition(job=stale, to=S.FAILED)
    assert Job.objects.get(pk=job.pk).status == S.ANALYZING


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transitions_exactly_one_wins(user):
    """Two threads (two DB connections) race to move the same queued job."""
    job = _job_in(user, JobKind.CLIP_PIPELINE, S.QUEUED)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(target: str) -> None:
        mine = Job.objects.get(pk=job.pk)
        barrier.wait()
        try:
            services.job_transition(job=mine, to=target)
            outcomes.append(f"won:{target}")
        except ConcurrentTransition:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(t,)) for t in (S.ANALYZING, S.FAILED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"]
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("won"))
    assert Job.objects.get(pk=job.pk).status == winner
    assert JobEvent.objects.filter(job=job, type="transition", from_status=S.QUEUED).count() == 1
