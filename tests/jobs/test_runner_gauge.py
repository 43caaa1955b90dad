"""`fala_jobs_in_process` is up before a job reads as running, and back down after any outcome.

/metrics reads the database (JobsCollector) before the processes' gauges, and the runner raises
its gauge before the claim commits: a scrape that sees a job running therefore always sees the
work-horse's gauge too (the metrics end-to-end test queried one where it did not).
"""

from __future__ import annotations

import pytest

from fala_clip import telemetry
from jobs import runner, services
from jobs.errors import IllegalTransition
from jobs.models import JobStatus

pytestmark = pytest.mark.django_db


def _gauge(kind: str) -> float:
    return float(telemetry.JOBS_IN_PROCESS.labels(kind)._value.get())


@pytest.mark.django_db(transaction=True)  # the runner commits and closes connections as a worker does
def test_gauge_is_up_when_the_claim_commits_and_down_after_the_job(user, tmp_path, monkeypatch):
    job = services.job_create(owner=user, kind="test_span", params={"out": str(tmp_path / "spans"), "seconds": 0})
    before = _gauge("test_span")
    seen: list[tuple[str, float]] = []
    real = services.job_transition

    def spy(**kw):
        seen.append((kw["to"], _gauge("test_span")))
        return real(**kw)

    monkeypatch.setattr(services, "job_transition", spy)
    runner.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert seen[0] == (JobStatus.ANALYZING, before + 1)
    assert _gauge("test_span") == before


@pytest.mark.parametrize("error", [IllegalTransition("taken"), RuntimeError("database gone")])
def test_gauge_goes_back_down_when_the_claim_fails(user, tmp_path, monkeypatch, error):
    job = services.job_create(owner=user, kind="test_span", params={"out": str(tmp_path / "spans"), "seconds": 0})
    before = _gauge("test_span")

    def refuse(**kw):
        raise error

    monkeypatch.setattr(services, "job_transition", refuse)
    if isinstance(error, IllegalTransition):
        runner._run_claimed(job)  # someone else has it: nothing to do
    else:
        with pytest.raises(RuntimeError):
            runner._run_claimed(job)
    assert _gauge("test_span") == before


def test_metrics_registry_reads_the_database_before_the_process_gauges():
    from prometheus_client.multiprocess import MultiProcessCollector

    from metrics.apis import build_registry
    from metrics.collectors import JobsCollector, ScrapeTimer

    order = [type(c) for c in build_registry(ScrapeTimer())._collector_to_names]
    jobs_at = order.index(JobsCollector)
    gauges_at = next(i for i, c in enumerate(order) if c is MultiProcessCollector or c.__name__ == "CollectorRegistry")
    assert jobs_at < gauges_at, order
