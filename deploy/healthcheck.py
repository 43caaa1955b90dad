"""Container healthchecks of deploy/compose.yaml (run inside the fala-clip image, from /app).

    python deploy/healthcheck.py web [URL]        # gunicorn answers an API request (any non-5xx)
    python deploy/healthcheck.py worker heavy     # an RQ worker of that queue is registered from this host
    python deploy/healthcheck.py scheduler        # this host's cron scheduler sent a heartbeat lately

Exit status 0 = healthy, 1 = not (with one line saying why).  Compose uses them to order the
start-up (``depends_on: service_healthy``) and to show the state in ``docker compose ps``; a
crashed process is restarted by ``restart: unless-stopped``, not by these.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request

# The scheduler sleeps at most 60 s between two heartbeats (rq.cron.CronScheduler).
SCHEDULER_HEARTBEAT_MAX_AGE_S = 180


def check_web(url: str = "http://127.0.0.1:8000/jobs") -> str | None:
    # An anonymous API call answers 401/403 in the JSON error shape: the app, its settings and
    # its URLconf are up.  X-Forwarded-Proto: https keeps SECURE_SSL_REDIRECT from answering 301.
    req = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", "Host": "localhost"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        return f"web: {exc}"
    return None if status < 500 else f"web: HTTP {status}"


def _django() -> None:
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fala_clip.settings.production")
    import django

    django.setup()


def check_worker(queue_name: str) -> str | None:
    _django()
    import django_rq
    from rq import Worker

    queue = django_rq.get_queue(queue_name)
    mine = [w for w in Worker.all(queue=queue) if w.hostname == socket.gethostname()]
    return None if mine else f"worker: no {queue_name} worker of host {socket.gethostname()} registered in Redis"


def check_scheduler() -> str | None:
    _django()
    import django_rq

    conn = django_rq.get_connection("default")
    prefix = f"{socket.gethostname()}:"
    members: list[tuple[bytes, float]] = conn.zrange("rq:cron_schedulers", 0, -1, withscores=True)  # type: ignore[assignment]
    beats = [score for name, score in members if name.decode().startswith(prefix)]
    if not beats:
        return "scheduler: not registered in Redis"
    age = time.time() - max(beats)
    return None if age < SCHEDULER_HEARTBEAT_MAX_AGE_S else f"scheduler: last heartbeat {age:.0f} s ago"


def main(argv: list[str]) -> int:
    if argv[:1] == ["web"] and len(argv) <= 2:
        problem = check_web(*argv[1:])
    elif argv[:1] == ["worker"] and len(argv) == 2:
        problem = check_worker(argv[1])
    elif argv[:1] == ["scheduler"]:
        problem = check_scheduler()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
