"""How long until a job whose whole heavy worker died (parent and work-horse
SIGKILLed, e.g. the host's OOM killer or a lost VM) is noticed.

Needs PostgreSQL and Redis (``eval $(scripts/services.sh start)``).  Starts a
heavy worker, a default worker and the scheduler with the default intervals
(heartbeat 15 s, stale after 75 s, maintenance 30 s), runs a job that sleeps,
kills the heavy worker and its horse, and times until the job leaves
``analyzing`` (retried or failed ``worker_lost``).  Uses the test settings for
their sleeping job kind.

Usage: ``.venv/bin/python bench/bench_worker_loss.py``
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DJANGO_SETTINGS_MODULE"] = "fala_clip.settings.test"
os.environ["JOB_HEARTBEAT_INTERVAL_S"] = "15"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from jobs.dispatch import job_enqueue  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.services import job_create  # noqa: E402
from music.services import artist_create_with_user  # noqa: E402


def main() -> int:
    call_command("migrate", verbosity=0)
    import django_rq

    django_rq.get_connection("heavy").flushdb()
    artist, _ = artist_create_with_user(username="bench-worker-loss")
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "WORKER_LOCK_DIR": str(tmp / "locks")}
    manage = [sys.executable, str(REPO / "manage.py")]
    commands = {"heavy": ["worker", "heavy"], "default": ["worker", "default"], "scheduler": ["scheduler"]}
    procs = {
        name: subprocess.Popen([*manage, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, args in commands.items()
    }
    try:
        pidfile = tmp / "horse.pid"
        job = job_create(owner=artist.user, kind="test_sleep", params={"pidfile": str(pidfile)}, max_attempts=1)
        job_enqueue(job=job)
        while not pidfile.exists():
            time.sleep(0.2)
        time.sleep(20)  # let a few heartbeats land, as in a real job
        horse = int(pidfile.read_text())
        os.kill(procs["heavy"].pid, signal.SIGKILL)
        os.kill(horse, signal.SIGKILL)
        t0 = time.monotonic()
        while Job.objects.get(pk=job.pk).status == "analyzing" and time.monotonic() - t0 < 300:
            time.sleep(0.5)
        job.refresh_from_db()
        print(f"whole heavy worker killed -> job {job.status} ({job.error_code}) after {time.monotonic() - t0:.1f} s")
        return 0 if job.status != "analyzing" else 1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
