"""/metrics: one scrape for every process of the host, bounded metrics directory, access rules,
scrape-time collectors.

Given real processes (a real RQ heavy worker forking a work-horse per job, separate Python
processes writing metrics) sharing a PROMETHEUS_MULTIPROC_DIR, when /metrics is scraped, then
their counters and histograms add up exactly, a finished work-horse's values survive it and
its files are folded away (the directory does not grow with the number of jobs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from fala_clip import promdir
from jobs.dispatch import job_enqueue
from jobs.models import Job, JobStatus
from jobs.services import job_create
from tests.conftest import REPO_ROOT
from tests.procwatch import wait_until


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


WRITER = """
import os, sys
from prometheus_client import Counter, Gauge, Histogram
c = Counter("t_things", "things", ["kind"])
h = Histogram("t_seconds", "seconds", ["kind"], buckets=(1, 10, float("inf")))
g = Gauge("t_live", "live", multiprocess_mode="livesum")
n = int(sys.argv[1])
c.labels("a").inc(n)
h.labels("a").observe(n)
g.inc(1)
if len(sys.argv) > 2:  # stay alive until stdin closes
    print("ready", flush=True)
    sys.stdin.read()
"""


def _run_writer(d: Path, n: int, *, stay: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(d)}
    args = [sys.executable, "-c", WRITER, str(n)] + (["stay"] if stay else [])
    return subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _collect(d: Path) -> dict:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(d))
    with promdir.reading(d):
        text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_folding_keeps_totals_drops_dead_files_and_live_gauges(tmp_path):
    d = tmp_path / "prom"
    promdir.wipe(d)
    for n in (1, 2, 3):
        assert _run_writer(d, n).wait(timeout=60) == 0
    alive = _run_writer(d, 5, stay=True)
    try:
        assert alive.stdout.readline().strip() == "ready"
        before = _collect(d)
        assert before[("t_things_total", (("kind", "a"),))] == 11
        assert promdir.fold_dead(d) == 3
        after = _collect(d)
        # Same totals (never a counter going backwards), histogram buckets included.
        assert after[("t_things_total", (("kind", "a"),))] == 11
        assert after[("t_seconds_count", (("kind", "a"),))] == 4
        assert after[("t_seconds_bucket", (("kind", "a"), ("le", "1.0")))] == 1
        assert after[("t_seconds_bucket", (("kind", "a"), ("le", "10.0")))] == 4
        assert after[("t_seconds_sum", (("kind", "a"),))] == 11
        # Only the live process's livesum gauge remains.
        assert after[("t_live", ())] == 1
        names = sorted(p.name for p in d.glob("*.db"))
        assert names == sorted(
            [
                "counter_archive.db",
                "histogram_archive.db",
                f"counter_{alive.pid}.db",
                f"histogram_{alive.pid}.db",
                f"gauge_livesum_{alive.pid}.db",
            ]
        )
    finally:
        alive.stdin.close()
        alive.wait(timeout=30)
    # A second fold adds to the archive instead of replacing it.
    assert _run_writer(d, 7).wait(timeout=60) == 0
    promdir.fold_dead(d)
    final = _collect(d)
    assert final[("t_things_total", (("kind", "a"),))] == 18
    assert final.get(("t_live", ()), 0) == 0
    assert sorted(p.name for p in d.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]


def test_a_live_process_is_never_folded(tmp_path):
    d = tmp_path / "prom"
    promdir.wipe(d)
    alive = _run_writer(d, 4, stay=True)
    try:
        assert alive.stdout.readline().strip() == "ready"
        assert promdir.fold_process(alive.pid, d) is False
        assert (d / f"counter_{alive.pid}.db").exists()
    finally:
        alive.stdin.close()
        alive.wait(timeout=30)


@pytest.fixture
def multiproc(tmp_path, monkeypatch):
    d = tmp_path / "prom"
    promdir.wipe(d)
    # The view reads the directory the worker processes write to.  This test process
    # itself stays in single-process mode (prometheus_client was imported without it).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(d))
    return d


def test_one_scrape_sums_a_real_workers_horses_and_the_directory_stays_bounded(multiproc, start_worker, user, tmp_path):
    """Given a real heavy worker that forks one work-horse per job, when it has run N jobs,
    then the scrape counts all N with their stage timings, and the directory holds the
    archives plus the worker's own files only — the same after 4 jobs as after 8."""
    out = tmp_path / "spans.jsonl"

    def run_batch(n: int) -> set[int]:
        jobs = [job_create(owner=user, kind="test_span", params={"out": str(out), "seconds": 0.05}) for _ in range(n)]
        for job in jobs:
            job_enqueue(job=job)
        proc = start_worker("heavy", burst=True, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc)})
        assert proc.wait(timeout=180) == 0, proc.stdout.read()
        assert Job.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.DONE).count() == n
        # Every work-horse was folded when it finished: only the worker parent's files remain.
        owners = {int(p.stem.rsplit("_", 1)[1]) for p in multiproc.glob("*.db") if "archive" not in p.name}
        assert owners == {proc.pid}, (owners, proc.pid)
        return owners

    run_batch(4)
    run_batch(4)
    samples = scrape()
    assert value(samples, "fala_jobs_total", kind="test_span", outcome="done") == 8
    assert value(samples, "fala_job_stage_duration_seconds_count", kind="test_span", stage="working") == 8
    assert value(samples, "fala_job_duration_seconds_count", kind="test_span", outcome="done") == 8
    stage_sum = value(samples, "fala_job_stage_duration_seconds_sum", kind="test_span", stage="working")
    assert 8 * 0.05 <= stage_sum < 8 * 5
    assert value(samples, "fala_job_transitions_total", kind="test_span", to="analyzing") == 8
    # The exited worker parents were folded by that scrape.
    remaining = sorted(p.name for p in multiproc.glob("*.db"))
    assert [n for n in remaining if "archive" not in n] == [], remaining
    files, size = promdir.dir_usage(multiproc)
    assert files <= 3 and size < 2 * 1024 * 1024


def test_retries_and_worker_lost_are_counted(multiproc, start_worker, user, tmp_path):
    from jobs.runner import job_handle_abandoned

    job = job_create(owner=user, kind="test_flaky", params={})
    job_enqueue(job=job)
    proc = start_worker("heavy", burst=True, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc)})
    assert proc.wait(timeout=180) == 0
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2
    # A job whose worker vanished, detected in this process (single-process registry).
    lost = job_create(owner=user, kind="test_span", params={"out": str(tmp_path / "x")})
    Job.objects.filter(pk=lost.pk).update(status=JobStatus.ANALYZING, attempts=1, max_attempts=1)
    from prometheus_client import REGISTRY

    before = (
        REGISTRY.get_sample_value("fala_worker_lost_total", {"kind": "test_span", "detected_by": "stale_heartbeat"})
        or 0
    )
    job_handle_abandoned(job_id=lost.pk, reason="test", detected_by="stale_heartbeat")
    after = REGISTRY.get_sample_value("fala_worker_lost_total", {"kind": "test_span", "detected_by": "stale_heartbeat"})
    assert after == before + 1
    samples = scrape()
    assert value(samples, "fala_job_retries_total", kind="test_flaky", reason="flaky_dependency") == 1
    assert value(samples, "fala_jobs_total", kind="test_flaky", outcome="done") == 1


@pytest.mark.django_db
def test_scrape_time_queue_and_job_gauges(user, redis_conn, django_capture_on_commit_callbacks):
    now = timezone.now()
    old = job_create(owner=user, kind="test_span", params={})
    Job.objects.filter(pk=old.pk).update(queued_at=now - timedelta(minutes=20), created_at=now - timedelta(minutes=20))
    job_create(owner=user, kind="test_span", params={})
    running = job_create(owner=user, kind="clip_pipeline", params={})
    Job.objects.filter(pk=running.pk).update(
        status=JobStatus.RENDERING, analyzing_at=now - timedelta(minutes=3), created_at=now - timedelta(minutes=4)
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_enqueue(job=old)
    samples = scrape()
    assert 1195 <= value(samples, "fala_queue_oldest_job_age_seconds", queue="heavy") <= 1260
    assert value(samples, "fala_queue_oldest_job_age_seconds", queue="default") == 0
    assert 1195 <= value(samples, "fala_job_oldest_unfinished_age_seconds") <= 1260
    assert 175 <= value(samples, "fala_job_oldest_running_age_seconds") <= 240
    assert value(samples, "fala_jobs_running", kind="clip_pipeline") == 1
    assert value(samples, "fala_jobs_running", kind="music_analysis") == 0
    assert value(samples, "fala_queue_depth", queue="heavy") == 1
    assert value(samples, "fala_collector_up", source="redis") == 1
    assert value(samples, "fala_collector_up", source="postgres") == 1
    assert value(samples, "fala_workdir_disk_free_bytes") > 0
    assert 0 < value(samples, "fala_host_memory_available_bytes") <= value(samples, "fala_host_memory_total_bytes")
    assert value(samples, "fala_host_cpu_seconds_total", mode="idle") > 0
    assert value(samples, "fala_scrape_duration_seconds") > 0


@pytest.mark.django_db
def test_redis_down_still_scrapes_and_says_so(settings):
    settings.RQ_QUEUES = {
        name: {**conf, "URL": "redis://127.0.0.1:1/0", "SOCKET_CONNECT_TIMEOUT": 1}
        for name, conf in settings.RQ_QUEUES.items()
    }
    samples = scrape()
    assert value(samples, "fala_collector_up", source="redis") == 0
    assert value(samples, "fala_collector_up", source="postgres") == 1
    assert value(samples, "fala_queue_depth", queue="heavy") is None  # unknown, not "empty"


def test_worker_processes_cpu_and_memory_are_reported(multiproc, start_worker):
    """A real idle heavy worker is found by its command line and measured."""
    proc = start_worker("heavy", extra_env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc)})
    samples: dict = {}

    def seen() -> bool:
        samples.update(scrape())
        return (value(samples, "fala_process_resident_memory_bytes", role="heavy", process="main") or 0) > 10e6 and (
            value(samples, "fala_workers_alive", queue="heavy", host=os.uname().nodename) == 1
        )

    wait_until(seen, timeout=60)
    assert value(samples, "fala_processes", role="heavy", process="main") >= 1
    assert value(samples, "fala_process_cpu_seconds_total", role="heavy", process="main") > 0
    assert value(samples, "fala_workers_alive", queue="heavy", host=os.uname().nodename) == 1
    proc.terminate()


# --- access ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_production_access_rules(settings):
    import ipaddress

    settings.METRICS_PUBLIC = False
    settings.METRICS_BEARER_TOKEN = "s3cret-token"
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    c = Client(REMOTE_ADDR="192.0.2.7")
    r = c.get("/metrics")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert b"fala_" not in r.content
    assert c.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert c.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    settings.METRICS_BEARER_TOKEN = ""
    r = c.get("/metrics")
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert c.post("/metrics").status_code in (403, 405)


def test_production_settings_close_metrics_by_default():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.METRICS_PUBLIC, [str(n) for n in settings.METRICS_ALLOWED_NETWORKS])"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("METRICS_")},
        "DJANGO_SETTINGS_MODULE": "fala_clip.settings.production",
        "SECRET_KEY": "x" * 64,
        "ALLOWED_HOSTS": "clips.example.com",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False ['127.0.0.1/32', '::1/128']"
    bad = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "METRICS_ALLOWED_IPS": "10.0.0.0/33"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "METRICS_ALLOWED_IPS" in bad.stderr


@pytest.mark.django_db
def test_exposition_is_well_formed_each_family_once(redis_conn):
    """Prometheus rejects a second TYPE line for a name; *_created series are off."""
    body = Client().get("/metrics").content.decode()
    types = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), sorted(t for t in types if types.count(t) > 1)
    assert "fala_collector_up" in types
    assert not [line for line in body.splitlines() if "_created" in line.split(" ")[0]]


def test_a_refused_second_heavy_worker_is_counted(multiproc, worker_env, tmp_path):
    """The refusal happens in a process that exits at once: its counter survives it."""
    from jobs.worker import acquire_heavy_slot

    slot = acquire_heavy_slot(lock_dir=tmp_path / "locks", limit=1)  # this test holds the host's slot
    try:
        proc = subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), "worker", "heavy", "--burst"],
            env={**worker_env, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        slot.close()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    samples = scrape()
    assert value(samples, "fala_heavy_worker_refused_total") == 1
    assert [p.name for p in multiproc.glob("*.db") if "archive" not in p.name] == []
