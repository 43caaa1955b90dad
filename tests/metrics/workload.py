"""One real workload watched by a real Prometheus; what was seen is recorded for the tests.

The scenario (``run``), in order:

1. Prometheus scrapes a fala-clip stack every second (gunicorn, 2 workers, the gunicorn
   config; no heavy worker yet) and evaluates ``alerts.yml`` with the SLA threshold cut from
   900 s to ``SLA_S`` and the ``for:`` of the SLA and heavy-worker alerts to ``FOR``.
2. A clip job is submitted over HTTP.  With no heavy worker it stays queued: the deliberately
   slow job.  The alerts API is polled until the shortened SLA alert has been seen pending and
   then firing (and the heavy-worker-down alert firing); the queue gauges are read then.
3. A heavy worker starts and runs the job; Prometheus is polled until it sees the job running,
   then until it sees it done, and until both alerts resolve.
4. A default worker runs two artist feedbacks interpreted by an OpenAI-compatible server on
   127.0.0.1 (the first answer a 500 → fallback to the local interpreter, the second a valid
   answer), so the LLM and feedback metrics are real too.
5. The final ``/metrics`` text is kept; every process of the stack is stopped, the database and
   Redis are emptied.  Prometheus keeps running (and its TSDB keeps the history) until the
   session ends, so tests can query it at the recorded instants.
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tests.metrics.stack import FalaStack, Prometheus, shortened_rules, wait_for_value
from tests.procwatch import wait_until

SLA_S = 5
FOR = "2s"
SLA_ALERT = "FalaJobOverSLA"
WORKER_ALERT = "FalaHeavyWorkerDown"


@dataclasses.dataclass
class AlertSighting:
    """When the alerts API first showed an alert in a state (this machine's clock)."""

    state: str
    seen_at: float
    active_at: float  # Prometheus' activeAt: when the condition started to hold
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float


@dataclasses.dataclass
class Workload:
    prometheus: Prometheus
    stack_url: str
    multiproc_dir: Path
    submitted_at: float
    job: dict[str, Any]  # the clip job's row (times as epoch seconds) once it ended
    feedback_jobs: list[dict[str, Any]]
    sightings: dict[str, list[AlertSighting]]  # alert name -> first pending, first firing
    t_queued: float  # the SLA alert was firing, the job still queued, no heavy worker
    t_running: float  # Prometheus saw the job running
    t_done: float  # Prometheus saw the job counted as done
    t_end: float  # everything done and scraped twice; the stack still up
    resolved_at: dict[str, float]
    metrics_text: str
    llm_requests: int
    logs: dict[str, str]


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


def _parse_rfc3339(value: str) -> float:
    # Prometheus writes nanoseconds: "2026-12-03T09:40:01.123456789Z"
    head, _, frac = value.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)


def _job_row(job_id: str) -> dict[str, Any]:
    from jobs.models import Job

    job = Job.objects.get(pk=job_id)
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "attempts": job.attempts,
        "created_at": _epoch(job.created_at),
        "queued_at": _epoch(job.queued_at),
        "analyzing_at": _epoch(job.analyzing_at),
        "done_at": _epoch(job.done_at),
        "failed_at": _epoch(job.failed_at),
        "stage_timings": dict(job.stage_timings or {}),
    }


def _watch_alerts(prom: Prometheus, sightings: dict[str, list[AlertSighting]], names: set[str]) -> set[str]:
    """Record first pending / first firing sightings; the names currently active."""
    active: set[str] = set()
    now = time.time()
    for alert in prom.alerts():
        name = alert["labels"].get("alertname")
        if name not in names:
            continue
        active.add(name)
        seen = sightings.setdefault(name, [])
        if all(s.state != alert["state"] for s in seen):
            seen.append(
                AlertSighting(
                    state=alert["state"],
                    seen_at=now,
                    active_at=_parse_rfc3339(alert["activeAt"]),
                    labels=dict(alert["labels"]),
                    annotations=dict(alert["annotations"]),
                    value=float(alert["value"]),
                )
            )
    return active


def run(*, root: Path, db_url: str, video: Path, stack_holder: list) -> Workload:
    """Run the scenario; ``stack_holder`` receives what must be stopped, even on failure."""
    from jobs.models import Job, JobStatus
    from music.services import artist_create_with_user
    from tests.learning.llm_server import LlmServer, http_error, ok

    _, token = artist_create_with_user(username="metrics-e2e")
    auth = {"Authorization": f"Token {token}"}

    llm = LlmServer().start()
    stack_holder.append(llm)
    reply = {
        "language": "pt",
        "adjustments": [
            {
                "intent": "cuts_faster",
                "kind": "param",
                "key": "cuts_per_bar",
                "op": "scale",
                "value": 2.0,
                "confidence": 0.9,
                "phrase": "cortes mais rápidos",
            }
        ],
        "unmatched": [],
    }
    # The clip job's title/post-text call (learning.copywriting) comes first: a provider error,
    # so the clips keep their local text; then the two feedback calls (an error, an answer).
    llm.push(http_error(500), http_error(500), ok(reply))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PROMETHEUS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fala_clip.settings.test",
        DATABASE_URL=db_url,
        MEDIA_ROOT=str(root / "media"),
        WORK_DIR=str(root / "work"),
        WORKER_LOCK_DIR=str(root / "locks"),
        PYTHONPATH=str(REPO_ROOT),
        RENDER_PRESET="ultrafast",
        LLM_API_KEY="test-key",
        LLM_BASE_URL=llm.base_url,
        LLM_MODEL="gpt-4o-mini",
        LLM_TIMEOUT_S="20",
    )
    stack = FalaStack(root / "stack", env)
    stack_holder.append(stack)
    stack.start_web(workers=2)

    prom = Prometheus(
        root / "prometheus",
        targets=[f"127.0.0.1:{stack.port}"],
        rules=shortened_rules(sla_seconds=SLA_S, for_=FOR),
    )
    stack_holder.append(prom)
    prom.start()
    assert wait_for_value(prom, 'up{job="fala-clip"} == 1', timeout=60), f"never scraped:\n{prom.proc.tail()}"

    # -- 2. the slow job: queued with no heavy worker to take it ----------------------------
    sightings: dict[str, list[AlertSighting]] = {}
    watched = {SLA_ALERT, WORKER_ALERT}
    submitted_at = time.time()
    with video.open("rb") as fh:
        resp = stack.session.post(
            f"{stack.url}/videos",
            files={"file": ("source.mp4", fh, "video/mp4")},
            data={"target_length_s": "15"},
            headers=auth,
            timeout=120,
        )
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job"]["id"]

    def both_firing() -> bool:
        _watch_alerts(prom, sightings, watched)
        return all(any(s.state == "firing" for s in sightings.get(n, [])) for n in watched)

    assert wait_until(both_firing, timeout=90, interval=0.2), f"alerts seen: {sightings}"
    assert Job.objects.get(pk=job_id).status == JobStatus.QUEUED
    # A scrape after the firing, so the queued-phase gauges are in the TSDB at t_queued.
    t_queued = time.time()
    wait_until(lambda: prom.query(f"timestamp(up) > {t_queued}"), timeout=10, interval=0.2)

    # -- 3. a heavy worker runs it ---------------------------------------------------------
    stack.start_worker("heavy")
    running = wait_for_value(prom, 'fala_jobs_running{kind="clip_pipeline"} == 1', timeout=240)
    assert running, f"Prometheus never saw the job running:\n{stack.procs[-1].tail()}"
    t_running = time.time()

    def ended() -> bool:
        return Job.objects.get(pk=job_id).status in (JobStatus.DONE, JobStatus.FAILED)

    assert wait_until(ended, timeout=900, interval=0.5), f"job never ended:\n{stack.procs[-1].tail()}"
    job = _job_row(job_id)
    assert wait_for_value(prom, 'fala_jobs_total{kind="clip_pipeline"} >= 1', timeout=60)
    t_done = time.time()

    resolved_at: dict[str, float] = {}

    def resolved() -> bool:
        active = _watch_alerts(prom, sightings, watched)
        for name in watched - active:
            resolved_at.setdefault(name, time.time())
        return not active

    wait_until(resolved, timeout=60, interval=0.2)

    # -- 4. feedback through the LLM (one provider error, one answer) ----------------------
    stack.start_worker("default")
    for n, text in enumerate(("cortes mais rápidos", "cortes mais rápidos, por favor")):
        resp = stack.session.post(
            f"{stack.url}/feedback/artist",
            json={"text": text, "language": "pt"},
            headers={**auth, "Idempotency-Key": f"metrics-e2e-{n}"},
            timeout=60,
        )
        assert resp.status_code == 202, resp.text
        wait_until(
            lambda n=n: Job.objects.filter(kind="feedback_apply", status__in=["done", "failed"]).count() > n,
            timeout=300,
            interval=0.5,
        )
    feedback_jobs = [_job_row(str(pk)) for pk in Job.objects.filter(kind="feedback_apply").values_list("pk", flat=True)]
    # Two samples of the last counters to move, so rate() over them has data at t_end.
    for expr in (
        'count_over_time(fala_llm_requests_total{status="ok"}[1m]) >= 2',
        'count_over_time(fala_feedback_total{event="applied"}[1m]) >= 2',
    ):
        assert wait_for_value(prom, expr, timeout=60), expr
    t_end = time.time()

    # -- 5. the final scrape ---------------------------------------------------------------
    metrics_text = stack.scrape()
    return Workload(
        prometheus=prom,
        stack_url=stack.url,
        multiproc_dir=stack.multiproc_dir,
        submitted_at=submitted_at,
        job=job,
        feedback_jobs=feedback_jobs,
        sightings=sightings,
        t_queued=t_queued,
        t_running=t_running,
        t_done=t_done,
        t_end=t_end,
        resolved_at=resolved_at,
        metrics_text=metrics_text,
        llm_requests=len(llm.requests),
        logs={p.name: p.tail(4000) for p in stack.procs},
    )
