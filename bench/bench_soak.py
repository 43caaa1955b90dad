"""Soak: a real stack under 50 concurrent API clients for 10 minutes (issue 14, deliverable 9).

Not a test: it reports figures.  Needs PostgreSQL and Redis (``eval $(scripts/services.sh start)``;
point ``DATABASE_URL`` at a database you can fill with throw-away artists, e.g. ``createdb
fala_soak``).  Starts, with the production settings (``fala_clip.settings.production``, DEBUG off,
JSON logs, a per-host metrics directory; plain HTTP on 127.0.0.1), the processes ``make serve``
runs: gunicorn (``--workers 2``), one heavy worker (preloading as in production), a default worker
and the scheduler.  Then ``--clients`` clients, each its own artist with a token, loop for
``--duration`` seconds with ``--think`` seconds between requests:

* reads: ``GET /videos``, ``/jobs``, ``/music``, ``/feedback``, and their own jobs
  (``GET /jobs/{id}``, the polling a client does) and finished videos' suggestions;
* ``POST /videos`` (a short generated 160x120 video) every ``--upload-every`` s: the upload rate
  limit (``--upload-rate``, per artist) answers most of them 429, as intended;
* ``POST /feedback/artist`` every ``--feedback-every`` s.

Reports p50/p95/p99 per read endpoint, the responses by status (the goal: none but 2xx and 429),
the RSS of the web and worker processes at the start and at the end, the jobs by outcome, and
whether a finished job left files in ``WORK_DIR`` (done: nothing may remain; failed: kept for
``WORKSPACE_RETENTION_S`` by design) or an upload left a partial in ``WORK_DIR/incoming``.

Usage: ``.venv/bin/python bench/bench_soak.py [--duration 600] [--clients 50]``
(``make bench`` runs a 60-s, 20-client version only with ``--soak`` / ``FALA_BENCH_SOAK=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PY = sys.executable
READS = ("GET /videos", "GET /jobs", "GET /music", "GET /feedback", "GET /jobs/{id}", "GET /videos/{id}/suggestions")


def stack_env(tmp: Path, args: argparse.Namespace) -> dict[str, str]:
    for var in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(var):
            sys.exit(f"{var} is not set: eval $(scripts/services.sh start) first (see the docstring)")
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fala_clip.settings.production",
        SECRET_KEY=f"soak-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback; no TLS terminator here
        FALA_VAR_DIR=str(tmp),
        WORK_DIR=str(tmp / "work"),
        MEDIA_ROOT=str(tmp / "media"),
        STATIC_ROOT=str(tmp / "static"),
        WORKER_LOCK_DIR=str(tmp / "locks"),  # this stack's own "host": never another checkout's lock
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"),
        UPLOAD_RATE_LIMIT=args.upload_rate,
        PYTHONPATH=str(REPO),
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.2)


class Stack:
    """The processes of one host, started like ``make serve`` does; stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], tmp: Path, web_workers: int):
        self.env, self.tmp = env, tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web_workers = web_workers

    def start(self) -> None:
        gunicorn = str(Path(PY).with_name("gunicorn"))
        cmds = {
            "web": [gunicorn, "fala_clip.wsgi", "-c", "fala_clip/gunicorn_conf.py", "--bind", f"127.0.0.1:{self.port}",
                    "--workers", str(self.web_workers), "--timeout", "300"],
            "heavy": [PY, "manage.py", "worker", "heavy"],
            "default": [PY, "manage.py", "worker", "default"],
            "scheduler": [PY, "manage.py", "scheduler"],
        }  # fmt: skip
        for name, argv in cmds.items():
            log = (self.tmp / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)

        def web_up() -> bool:
            try:
                return requests.get(f"{self.base}/jobs", timeout=5).status_code == 401
            except requests.RequestException:
                return False

        wait_for(web_up, 120, "gunicorn")
        lock = self.tmp / "locks" / "heavy-worker-0.lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(self.procs["heavy"].pid), 120, "heavy lock")
        # registered in Redis = its preload is over (the start memory is then the working one)
        import django_rq
        from rq import Worker

        pids = {self.procs["heavy"].pid, self.procs["default"].pid}
        wait_for(
            lambda: pids <= {w.pid for q in ("heavy", "default") for w in Worker.all(queue=django_rq.get_queue(q))},
            300,
            "the workers to register in Redis",
        )
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}: see {self.tmp / (name + '.log')}")

    def rss_mb(self) -> dict[str, float]:
        """RSS per role: web = gunicorn master + its workers; heavy = the worker (its horse apart)."""
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            try:
                p = psutil.Process(proc.pid)
                kids = p.children(recursive=True)
                if name == "web":
                    out["web"] = (p.memory_info().rss + sum(k.memory_info().rss for k in kids)) / 2**20
                else:
                    out[name] = p.memory_info().rss / 2**20
                    if name == "heavy" and kids:
                        out["heavy horse (+ children)"] = sum(k.memory_info().rss for k in kids) / 2**20
            except psutil.Error:
                out[name] = float("nan")
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, endpoint: str, seconds: float, status: str) -> None:
        with self.lock:
            self.latency[endpoint].append(seconds)
            self.status[endpoint][status] += 1


def client(base: str, token: str, sources: list[Path], stats: Stats, stop: threading.Event,
           args: argparse.Namespace, seed: int) -> None:  # fmt: skip
    rng = random.Random(seed)
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    jobs: list[str] = []
    done_videos: list[str] = []
    next_upload = time.monotonic() + rng.uniform(0, args.upload_every)
    next_feedback = time.monotonic() + rng.uniform(0, args.feedback_every)

    def call(method: str, endpoint: str, path: str, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            resp = s.request(method, base + path, timeout=120, **kw)
        except requests.RequestException as exc:
            stats.add(endpoint, time.perf_counter() - t0, type(exc).__name__)
            return None
        stats.add(endpoint, time.perf_counter() - t0, str(resp.status_code))
        return resp

    while not stop.is_set():
        now = time.monotonic()
        if now >= next_upload:
            next_upload = now + args.upload_every
            src = rng.choice(sources)
            with src.open("rb") as fh:
                files = {"file": (src.name, fh, "video/mp4")}
                resp = call("POST", "POST /videos", "/videos", files=files,
                            data={"target_length_s": "15", "captions": "false"})  # fmt: skip
            if resp is not None and resp.status_code == 202:
                jobs.append(resp.json()["job"]["id"])
        elif now >= next_feedback:
            next_feedback = now + args.feedback_every
            text = rng.choice(["cortes mais rápidos", "start on the chorus", "less shaky footage"])
            call("POST", "POST /feedback/artist", "/feedback/artist", json={"text": text})
        else:
            pick = rng.random()
            if jobs and pick < 0.3:
                job_id = rng.choice(jobs)
                resp = call("GET", "GET /jobs/{id}", f"/jobs/{job_id}")
                if resp is not None and resp.status_code == 200 and resp.json()["status"] in ("done", "failed"):
                    jobs.remove(job_id)
                    video = (resp.json().get("links") or {}).get("suggestions")
                    if resp.json()["status"] == "done" and video:
                        done_videos.append(video)
            elif done_videos and pick < 0.4:
                call("GET", "GET /videos/{id}/suggestions", rng.choice(done_videos))
            else:
                endpoint = rng.choice(("GET /videos", "GET /jobs", "GET /music", "GET /feedback"))
                call("GET", endpoint, endpoint.split(" ", 1)[1])
        stop.wait(rng.uniform(0.5, 1.5) * args.think)


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (q in 1..99) of at least one value."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds the clients run (default 600)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--think", type=float, default=1.0, help="mean seconds between a client's requests")
    ap.add_argument("--upload-every", type=float, default=20.0, help="seconds between a client's upload attempts")
    ap.add_argument("--upload-rate", default="1/5m", help="UPLOAD_RATE_LIMIT of the stack (per artist)")
    ap.add_argument("--feedback-every", type=float, default=45.0)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fala-soak-"))
    env = stack_env(tmp, args)
    os.environ.update({k: env[k] for k in env if k not in ("PYTHONPATH",)})
    print(f"soak: {args.clients} clients for {args.duration:.0f} s; stack in {tmp}", flush=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)

    import django

    django.setup()
    from fala_clip.media.samples import sample_video
    from music.services import artist_create_with_user

    run = uuid.uuid4().hex[:6]
    tokens = [artist_create_with_user(username=f"soak-{run}-{i}")[1] for i in range(args.clients)]
    sources = [sample_video(tmp / f"source-{d}.mp4", duration=d, width=160, height=120) for d in (20.0, 24.0)]

    import django_rq

    waiting = django_rq.get_queue("heavy").count
    if waiting:
        print(f"warning: {waiting} jobs already wait on the heavy queue; this run's worker will take them first")
    stack = Stack(env, tmp, args.web_workers)
    try:
        return soak(stack, tokens, sources, args, env, run)
    finally:
        stack.stop()
        retire_unfinished(run)


def retire_unfinished(run: str) -> None:
    """This run's jobs still queued or running: off the queues and failed, so that the next run's
    heavy worker does not inherit them (their files were in this run's temporary folder)."""
    from jobs.dispatch import get_queue, rq_job_id
    from jobs.errors import ConcurrentTransition, IllegalTransition
    from jobs.models import ACTIVE_STATUSES, Job, JobStatus
    from jobs.services import job_fail

    unfinished = [JobStatus.QUEUED, *ACTIVE_STATUSES]
    left = list(Job.objects.filter(owner__username__startswith=f"soak-{run}-", status__in=unfinished))
    for job in left:
        get_queue(job.queue).remove(rq_job_id(job))
        try:
            job_fail(job=job, code="bench_stopped", message="the soak run ended before this job ran")
        except (ConcurrentTransition, IllegalTransition):
            pass
    print(f"retired {len(left)} unfinished jobs of this run (failed with bench_stopped)")


def soak(stack: Stack, tokens: list[str], sources: list[Path], args: argparse.Namespace, env: dict, run: str) -> int:
    from jobs.models import Job

    t_start = time.time()
    stack.start()
    print(f"stack up in {time.time() - t_start:.1f} s at {stack.base}", flush=True)
    stats, stop = Stats(), threading.Event()
    threads = [
        threading.Thread(target=client, args=(stack.base, tok, sources, stats, stop, args, i), daemon=True)
        for i, tok in enumerate(tokens)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    # "start" memory: once every process has served a few requests (import-time growth is not a leak)
    time.sleep(min(30.0, args.duration / 6))  # bench pacing, not synchronisation
    rss_start = stack.rss_mb()
    load_start = os.getloadavg()[0]
    rss_max: dict[str, float] = dict(rss_start)
    while time.monotonic() - t0 < args.duration:
        time.sleep(5)
        for k, v in stack.rss_mb().items():
            rss_max[k] = max(rss_max.get(k, 0.0), v)
    rss_end = stack.rss_mb()
    load_end = os.getloadavg()[0]
    for k, v in rss_end.items():
        rss_max[k] = max(rss_max.get(k, 0.0), v)
    stop.set()
    for t in threads:
        t.join(timeout=130)
    elapsed = time.monotonic() - t0

    owners = [f"soak-{run}-{i}" for i in range(args.clients)]
    mine = Job.objects.filter(owner__username__in=owners)
    outcome = Counter(f"{kind} {status}" for kind, status in mine.values_list("kind", "status"))
    finished = Job.objects.filter(owner__username__in=owners, status__in=("done", "failed"))
    work = Path(env["WORK_DIR"])
    left_done = [str(j.pk) for j in finished if j.status == "done" and (work / "jobs" / str(j.pk)).exists()]
    kept_failed = [str(j.pk) for j in finished if j.status == "failed" and (work / "jobs" / str(j.pk)).exists()]
    incoming = list((work / "incoming").glob("*")) if (work / "incoming").exists() else []
    failures = Counter(
        Job.objects.filter(owner__username__in=owners, status="failed").values_list("error_code", flat=True)
    )
    alive = {name: proc.poll() is None for name, proc in stack.procs.items()}

    total = sum(sum(c.values()) for c in stats.status.values())
    bad = {
        ep: {st: n for st, n in c.items() if not (st.startswith("2") or st == "429")} for ep, c in stats.status.items()
    }
    bad = {ep: c for ep, c in bad.items() if c}
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s), {args.clients} clients")
    print(f"{'endpoint':34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    figures: dict[str, dict] = {}
    for ep in sorted(stats.latency, key=lambda e: (e not in READS, e)):
        lat = sorted(stats.latency[ep])
        row: dict[str, object] = {"n": len(lat), **{f"p{q}_ms": round(pct(lat, q) * 1000, 1) for q in (50, 95, 99)}}
        row["statuses"] = dict(stats.status[ep])
        figures[ep] = row
        print(f"{ep:34} {row['n']:>6} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}  {row['statuses']}")
    print(f"errors other than 429: {bad or 'none'}")
    print(f"{'process RSS (MB)':26} {'start':>8} {'end':>8} {'max':>8}")
    for k in sorted(set(rss_start) | set(rss_end)):
        print(
            f"{k:26} {rss_start.get(k, float('nan')):8.0f} {rss_end.get(k, float('nan')):8.0f} {rss_max.get(k, 0):8.0f}"
        )
    print(f"host load average (1 min) at start / end: {load_start:.1f} / {load_end:.1f} on {os.cpu_count()} CPUs")
    print(f"processes alive at the end: {alive}")
    print(f"jobs: {dict(outcome)}; failures by code: {dict(failures) or 'none'}")
    print(
        f"finished jobs' workspaces left in WORK_DIR: done {len(left_done)} (must be 0), failed "
        f"{len(kept_failed)} (kept for WORKSPACE_RETENTION_S); partial uploads in incoming: {len(incoming)}"
    )
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "requests": total, "elapsed_s": elapsed, "endpoints": figures, "errors_other_than_429": bad,
            "rss_mb": {"start": rss_start, "end": rss_end, "max": rss_max}, "alive": alive,
            "loadavg": [load_start, load_end],
            "jobs": dict(outcome), "failures": dict(failures), "done_workspaces_left": left_done,
            "failed_workspaces_kept": len(kept_failed), "incoming_left": len(incoming),
        }, indent=2))  # fmt: skip
    ok = not bad and not left_done and not incoming and all(alive.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
