"""End to end: a real Prometheus scrapes the running stack during a real clip job.

The workload (``tests/metrics/workload.py``, fixture ``metrics_workload``): gunicorn with the
gunicorn config and 2 workers, then a clip job submitted over HTTP while no heavy worker runs
(the deliberately slow job), then a heavy worker that runs it, then two LLM-interpreted
feedbacks through a default worker.  Prometheus (``/usr/bin/prometheus``, 1-s scrape and
evaluation) loads ``alerts.yml`` with the SLA threshold shortened from 900 s to
``workload.SLA_S`` and ``for:`` to ``workload.FOR``.  The tests read what the alerts API showed
while it ran and query Prometheus's HTTP API at the recorded instants.
"""

from __future__ import annotations

import re
import socket

import pytest

from tests.metrics import workload as wl

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

FOR_S = float(wl.FOR.rstrip("s"))
#: A gauge read at scrape time is one scrape plus one evaluation (2 s) old at most, on an idle
#: machine; a loaded one delays both.
LAG_S = 5.0


def by(prom, expr: str, label: str, at: float) -> dict[str, float]:
    return {r["metric"].get(label, ""): r["v"] for r in prom.query(expr, at=at)}


def one(prom, expr: str, at: float) -> float:
    result = prom.query(expr, at=at)
    assert len(result) == 1, (expr, result)
    return result[0]["v"]


def test_the_job_ran_to_done(metrics_workload):
    job = metrics_workload.job
    assert job["status"] == "done", (job["error_code"], job["error_message"], metrics_workload.logs)
    assert job["attempts"] == 1
    assert [j["status"] for j in metrics_workload.feedback_jobs] == ["done", "done"]
    assert metrics_workload.llm_requests == 3  # the clip copy (error -> local text) + two feedback calls


def test_shortened_sla_alert_goes_pending_then_firing_for_the_queued_job(metrics_workload):
    w = metrics_workload
    job = w.job
    seen = w.sightings[wl.SLA_ALERT]
    assert [s.state for s in seen] == ["pending", "firing"]
    pending, firing = seen
    # pending once the job's age passed the threshold, not before
    assert job["created_at"] + wl.SLA_S - 0.5 <= pending.active_at <= job["created_at"] + wl.SLA_S + LAG_S
    assert pending.value > wl.SLA_S
    # firing after `for:`, with the same activeAt, while the job still sat in the queue
    assert firing.active_at == pending.active_at
    assert firing.seen_at >= pending.active_at + FOR_S - 0.05
    assert firing.seen_at < job["analyzing_at"], "the alert must fire for the job while it is queued"
    assert firing.labels == {"alertname": wl.SLA_ALERT, "severity": "critical"}
    assert firing.annotations["summary"] == "A job has been queued or running for more than 15 minutes"
    assert firing.annotations["runbook_url"] == "docs/operations.md#falajoboversla"
    assert re.fullmatch(
        r"The oldest unfinished job \(queued or running\) was created [\d.]+s ago; the SLA is 15 minutes end to end\.",
        firing.annotations["description"],
    ), firing.annotations["description"]
    # Prometheus' own record of it, and its end once the job was done
    prom = w.prometheus
    assert prom.query(f'ALERTS{{alertname="{wl.SLA_ALERT}",alertstate="firing"}}', at=w.t_queued)
    assert w.resolved_at[wl.SLA_ALERT] > job["done_at"]
    assert prom.query(f'ALERTS{{alertname="{wl.SLA_ALERT}"}}', at=w.t_end) == []


def test_heavy_worker_down_fires_without_a_heavy_worker_and_resolves_with_one(metrics_workload):
    w = metrics_workload
    states = [s.state for s in w.sightings[wl.WORKER_ALERT]]
    assert "firing" in states
    firing = next(s for s in w.sightings[wl.WORKER_ALERT] if s.state == "firing")
    assert firing.labels == {"alertname": wl.WORKER_ALERT, "severity": "critical"}
    assert firing.annotations["runbook_url"] == "docs/operations.md#falaheavyworkerdown"
    prom = w.prometheus
    assert prom.query(f'ALERTS{{alertname="{wl.WORKER_ALERT}",alertstate="firing"}}', at=w.t_queued)
    assert prom.query(f'ALERTS{{alertname="{wl.WORKER_ALERT}"}}', at=w.t_done) == []
    assert wl.WORKER_ALERT in w.resolved_at


def test_queue_gauges_while_the_job_waits(metrics_workload):
    w = metrics_workload
    prom, at, job = w.prometheus, w.t_queued, w.job
    waited = at - job["created_at"]
    assert by(prom, "fala_queue_depth", "queue", at) == {"heavy": 1.0, "default": 0.0}
    ages = by(prom, "fala_queue_oldest_job_age_seconds", "queue", at)
    assert ages["default"] == 0.0
    assert wl.SLA_S < ages["heavy"] <= waited + 0.5
    assert wl.SLA_S < one(prom, "fala_job_oldest_unfinished_age_seconds", at) <= waited + 0.5
    assert one(prom, "fala_job_oldest_running_age_seconds", at) == 0.0
    running = by(prom, "fala_jobs_running", "kind", at)
    assert running == {"clip_pipeline": 0.0, "music_analysis": 0.0, "feedback_apply": 0.0}
    # no heavy worker registered: the collector reports 0 for this host
    alive = prom.query('fala_workers_alive{queue="heavy"}', at=at)
    assert [(r["metric"]["host"], r["v"]) for r in alive] == [(socket.gethostname(), 0.0)]
    assert one(prom, 'fala_collector_up{source="redis"}', at) == 1.0
    assert one(prom, 'fala_collector_up{source="postgres"}', at) == 1.0


def test_queue_worker_and_process_gauges_while_the_job_runs(metrics_workload):
    w = metrics_workload
    prom, at, job = w.prometheus, w.t_running, w.job
    assert by(prom, "fala_jobs_running", "kind", at)["clip_pipeline"] == 1.0
    assert by(prom, "fala_queue_depth", "queue", at)["heavy"] == 0.0
    assert by(prom, "fala_queue_oldest_job_age_seconds", "queue", at)["heavy"] == 0.0
    alive = prom.query('fala_workers_alive{queue="heavy"}', at=at)
    assert [(r["metric"]["host"], r["v"]) for r in alive] == [(socket.gethostname(), 1.0)]
    running_age = one(prom, "fala_job_oldest_running_age_seconds", at)
    assert 0.0 <= running_age <= at - job["analyzing_at"] + 0.5
    unfinished = one(prom, "fala_job_oldest_unfinished_age_seconds", at)
    assert running_age < unfinished <= at - job["created_at"] + 0.5
    # the work-horse's own gauge, and the process collector seeing it and the web workers
    assert one(prom, 'fala_jobs_in_process{kind="clip_pipeline"}', at) == 1.0
    rss = by(prom, 'fala_process_resident_memory_bytes{role="heavy"}', "process", at)
    assert rss["main"] > 10e6 and rss["horse"] > 10e6, rss
    assert one(prom, 'sum(fala_process_resident_memory_bytes{role="web"})', at) > 10e6
    cpu = by(prom, 'fala_process_cpu_seconds_total{role="heavy"}', "process", at)
    assert cpu["main"] > 0.0 and cpu["horse"] > 0.0, cpu


def test_stage_histogram_holds_the_jobs_stages_with_plausible_values(metrics_workload):
    w = metrics_workload
    prom, at, job = w.prometheus, w.t_done, w.job
    wall = job["done_at"] - job["created_at"]
    running = job["done_at"] - job["analyzing_at"]
    counts = by(prom, 'fala_job_stage_duration_seconds_count{kind="clip_pipeline"}', "stage", at)
    sums = by(prom, 'fala_job_stage_duration_seconds_sum{kind="clip_pipeline"}', "stage", at)
    timings = job["stage_timings"]
    assert set(counts) == set(sums) == set(timings), (sorted(counts), sorted(timings))
    assert {"video.decode", "video.shots", "suggesting", "render.variant_1", "render.variant_2", "delivery"} <= set(
        counts
    )
    for stage, n in counts.items():
        assert n >= 1, stage
        assert 0.0 < sums[stage] < running < wall, (stage, sums[stage], running)
        # the job row keeps the last observation, rounded to the millisecond
        if n == 1:
            assert sums[stage] == pytest.approx(timings[stage], abs=0.0015), stage
        else:
            assert sums[stage] >= timings[stage] - 0.0015, stage
    # the renders are the big stages of a 320x240 source rendered at 1080x1920
    assert sums["render.variant_1"] > sums["suggesting"]
    # end to end: queued (the slow part) -> done, observed once
    assert one(prom, 'fala_job_duration_seconds_count{kind="clip_pipeline",outcome="done"}', at) == 1.0
    total = one(prom, 'fala_job_duration_seconds_sum{kind="clip_pipeline",outcome="done"}', at)
    assert total == pytest.approx(job["done_at"] - (job["queued_at"] or job["created_at"]), abs=0.01)
    assert total > wl.SLA_S
    assert one(prom, 'fala_jobs_total{kind="clip_pipeline",outcome="done"}', at) == 1.0
    # Every template exists from start-up (primed at 0); this job rendered two of them.
    assert by(prom, 'fala_renders_total{outcome="done"}', "template", at) == {
        "highlight": 1.0,
        "beat_montage": 1.0,
        "hook": 0.0,
    }


def test_llm_and_feedback_metrics_reach_prometheus(metrics_workload):
    from learning.usage import compute_cost, prices_for

    w = metrics_workload
    prom, at = w.prometheus, w.t_end
    assert by(prom, "fala_llm_requests_total", "status", at) == {"error": 2.0, "ok": 1.0}
    assert by(prom, "fala_llm_fallbacks_total", "reason", at) == {
        "error": 1.0,
        "timeout": 0.0,
        "invalid_output": 0.0,
        "budget_exceeded": 0.0,
    }
    tokens = by(prom, 'gen_ai_client_token_usage_sum{gen_ai_request_model="gpt-4o-mini"}', "gen_ai_token_type", at)
    assert tokens == {"input": 1200.0, "output": 85.0}  # the local server's usage block
    cost = compute_cost(input_tokens=1200, output_tokens=85, cached_tokens=1024, prices=prices_for("gpt-4o-mini"))
    assert one(prom, 'fala_llm_cost_usd_total{model="gpt-4o-mini"}', at) == pytest.approx(float(cost), rel=1e-6)
    assert by(prom, 'fala_feedback_total{kind="artist"}', "event", at)["applied"] == 2.0
    assert one(prom, "fala_llm_budget_exceeded_total", at) == 0.0
