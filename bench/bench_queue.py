"""Throughput of one heavy worker: N clip jobs submitted at once, run one after another.

Needs PostgreSQL and Redis (``eval $(scripts/services.sh start)``).  Starts one
real heavy worker (``manage.py worker heavy``, RQ, preloading as in
production), submits ``--jobs`` clip jobs at the same instant through the
upload service (distinct files: the same source remuxed with a different
title, so no submission is deduplicated and every video is analysed), all with
one track, and waits for them.  Prints per job the queue wait (submitted →
started) and the run time (started → done), then the makespan, jobs per hour
and the queue wait of the last job.

The default source is a 60-s 1080p30 piece (~35 s per job here), so 10 jobs take
~6 minutes; ``--w5`` uses W5's 5-minute source instead (~15 minutes).  The
figures for W5 on a 2-core host are then ``3600 / W5 job time`` jobs per hour
and ``(N - 1) × W5 job time`` for the N-th job's wait, plus the per-job queue
overhead this script measures (``makespan - Σ run times``).

Usage: ``.venv/bin/python bench/bench_queue.py [--jobs 10] [--w5]``
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
os.environ["DJANGO_SETTINGS_MODULE"] = "fala_clip.settings.test"
TMP = Path(tempfile.mkdtemp(prefix="fala-queue-"))
# this process and its worker share the storage, work dir and lock dir; renders at the production preset
os.environ.update(
    MEDIA_ROOT=str(TMP / "media"), WORK_DIR=str(TMP / "work"), WORKER_LOCK_DIR=str(TMP / "locks"),
    RENDER_PRESET="veryfast",
)  # fmt: skip

import django  # noqa: E402

django.setup()

from django.core.files import File  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench.common import BENCH_DIR, w5_source, w5_track  # noqa: E402


def one_minute_source() -> Path:
    out = BENCH_DIR / "queue_src_60s_1080p30.mp4"
    if not out.exists():
        src = w5_source()
        tmp = out.with_suffix(".tmp.mp4")
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "30", "-t", "60", "-i", str(src),
             "-c", "copy", str(tmp)],
            check=True,
        )  # fmt: skip
        tmp.rename(out)
    return out


def distinct_copies(src: Path, n: int, into: Path) -> list[Path]:
    """``n`` files with the same pictures and sound but different bytes (a title tag)."""
    out = []
    for i in range(n):
        p = into / f"source-{i}.mp4"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-map", "0",
             "-metadata", f"title=queue bench {i} {time.time_ns()}", str(p)],
            check=True,
        )  # fmt: skip
        out.append(p)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--w5", action="store_true", help="W5's 5-minute source (slow)")
    args = ap.parse_args()

    import django_rq

    from jobs.models import Job, JobStatus
    from music.services import artist_create_with_user, music_upload
    from video.services import video_submit_upload

    call_command("migrate", verbosity=0)
    django_rq.get_connection("heavy").flushdb()
    tmp = TMP
    src = w5_source() if args.w5 else one_minute_source()
    copies = distinct_copies(src, args.jobs, tmp)
    track = w5_track()
    artist, _ = artist_create_with_user(username=f"bench-queue-{time.time_ns()}")
    user = artist.user

    worker = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "worker", "heavy"],
        env=dict(os.environ),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with track.open("rb") as fh:
            music = music_upload(owner=user, uploaded=File(fh, name=track.name), title="queue bench").asset
        t0 = time.time()
        jobs = []
        for p in copies:
            with p.open("rb") as fh:
                res = video_submit_upload(
                    owner=user, uploaded=File(fh, name=p.name), music_id=music.pk, options={"target_length_s": 30}
                )
            jobs.append(res.job.pk)
        submitted = time.time() - t0
        print(f"submitted {len(jobs)} jobs in {submitted:.1f} s; waiting ...", flush=True)
        while True:
            rows = list(Job.objects.filter(pk__in=jobs))
            if all(r.status in (JobStatus.DONE, JobStatus.FAILED) for r in rows):
                break
            if worker.poll() is not None:
                print(f"the heavy worker exited with {worker.returncode}")
                return 1
            time.sleep(1.0)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()

    rows = sorted(Job.objects.filter(pk__in=jobs), key=lambda r: r.analyzing_at or r.created_at)
    first_submit = min(r.created_at for r in rows)
    print(f"\n{'job':>4s} {'status':>8s} {'queue wait s':>13s} {'run s':>8s}")
    waits, runs = [], []
    for i, r in enumerate(rows, 1):
        end = r.done_at or r.failed_at
        wait = (r.analyzing_at - r.created_at).total_seconds() if r.analyzing_at else float("nan")
        run = (end - r.analyzing_at).total_seconds() if end and r.analyzing_at else float("nan")
        waits.append(wait)
        runs.append(run)
        print(f"{i:4d} {r.status:>8s} {wait:13.1f} {run:8.1f}")
    last_end = max((r.done_at or r.failed_at) for r in rows)
    makespan = (last_end - first_submit).total_seconds()
    failed = sum(r.status != JobStatus.DONE for r in rows)
    print(f"\nmakespan {makespan:.1f} s for {len(rows)} jobs ({failed} failed)")
    print(f"jobs per hour on this host: {3600 * len(rows) / makespan:.1f}")
    print(f"queue wait of the last job: {waits[-1]:.1f} s ({waits[-1] / 60:.1f} min)")
    print(f"run time per job: median {statistics.median(runs):.1f} s, first {runs[0]:.1f} s (analyses the track)")
    overhead = (makespan - sum(runs)) / len(rows)
    print(f"queue overhead per job (makespan - sum of run times) / N: {overhead:.2f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
