"""The metrics machinery under load: scrape time with 1,000 jobs in the database, and the
multiprocess directory after 200 jobs through a real heavy worker.

Needs PostgreSQL and Redis (``eval $(scripts/services.sh start)``) with the schema migrated.
It creates a throw-away user (deleted at the end, with its jobs), 1,000 job rows in mixed
states, and times ``GET /metrics`` (in-process Django client, median of 20) with every
collector on.  Then it runs 200 tiny jobs (the tests' ``test_span`` handler: one stage,
no sleep) through one real ``manage.py worker heavy --burst`` — RQ forks a work-horse per
job, each writes its metrics to the shared directory and is folded when it exits — and
reports the directory's files and bytes and the scrape time over it.

Usage: ``.venv/bin/python bench/bench_metrics.py [--jobs 200] [--rows 1000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DJANGO_SETTINGS_MODULE"] = "fala_clip.settings.test"  # the test_span handler
TMP = Path(tempfile.mkdtemp(prefix="fala-metrics-"))
PROM = TMP / "prom"
os.environ.update(WORK_DIR=str(TMP / "work"), WORKER_LOCK_DIR=str(TMP / "locks"))

import django  # noqa: E402

django.setup()


def scrape_times(n: int = 20) -> tuple[float, int]:
    from django.test import Client

    client = Client()
    times = []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        r = client.get("/metrics")
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
        size = len(r.content)
    return statistics.median(times), size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args()

    import django_rq
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fala_clip import promdir
    from jobs.dispatch import job_enqueue
    from jobs.models import Job, JobStatus
    from jobs.services import job_create

    django_rq.get_connection("heavy").flushdb()
    user = get_user_model().objects.create_user(f"bench-metrics-{time.time_ns()}")
    try:
        statuses = [JobStatus.DONE] * 7 + [JobStatus.FAILED, JobStatus.QUEUED, JobStatus.RENDERING]
        now = timezone.now()
        Job.objects.bulk_create(
            [
                Job(kind="clip_pipeline", owner=user, status=statuses[i % 10], queued_at=now, created_at=now)
                for i in range(args.rows)
            ]
        )
        promdir.wipe(PROM)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROM)  # the view reads it per request
        total_jobs = Job.objects.count()
        median, size = scrape_times()
        print(f"scrape with {total_jobs} jobs in the database: median {median * 1000:.1f} ms ({size} bytes)")

        jobs = [
            job_create(owner=user, kind="test_span", params={"out": str(TMP / "spans.jsonl"), "seconds": 0})
            for _ in range(args.jobs)
        ]
        for job in jobs:
            job_enqueue(job=job)
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(PROM), "WORKER_PRELOAD_MODULES": ""}
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(REPO / "manage.py"), "worker", "heavy", "--burst"],
            env=env, cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - t
        done = Job.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.DONE).count()
        print(f"{done}/{args.jobs} jobs done by one real heavy worker in {elapsed:.1f} s (exit {proc.returncode})")
        files, nbytes = promdir.dir_usage(PROM)
        print(f"multiprocess dir after {args.jobs} jobs, before any scrape: {files} files, {nbytes / 1024:.0f} KiB")
        median, size = scrape_times()
        files, nbytes = promdir.dir_usage(PROM)
        print(f"after the first scrape (dead worker folded): {files} files, {nbytes / 1024:.0f} KiB")
        print(f"scrape over it: median {median * 1000:.1f} ms ({size} bytes)")
        per_horse = sorted(p.name for p in PROM.glob("*.db"))
        print("files:", ", ".join(per_horse))
        return 0 if done == args.jobs else 1
    finally:
        Job.objects.filter(owner=user).delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(main())
