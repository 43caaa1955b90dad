"""Redis, worker and ffmpeg faults injected into the production stack (``scripts/serve.sh``).

One stack (a private PostgreSQL and Redis, gunicorn, the heavy and default workers and the
scheduler under ``serve.sh``) serves every scenario of this module: each fault leaves it healthy
again, so a scenario only restarts what it broke.  Jobs are tiny real clip pipelines (a 6-s
160x120 source, ultrafast renders).  For every job the test checks, from PostgreSQL and
``/proc``, that it ends ``done`` or ``failed`` with a clear code within its deadline, ran as
often as expected (one ``analyzing`` transition per attempt; an infrastructure blip costs no
attempt and is never counted as ``worker_lost``), left no workspace behind, that no work-horse
ever ran without its worker, that the heavy-worker lock is held by the heavy worker alone, and
that nothing the stack started outlives ``stack.stop()``.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.stack import PrivateServices, ServeStack, elapsed_since, wait_for
from tests.procwatch import child_pids

pytestmark = [pytest.mark.slow]

#: The fault settings: maintenance (reconciler) every 2 s, a heartbeat every second, a job
#: silent for 10 s is abandoned, a queued job missing from Redis is enqueued again 3 s after
#: its enqueue, a URL download gives up after 3 s.
STACK_ENV = {
    "RENDER_PRESET": "ultrafast",
    "WORKER_MAINTENANCE_INTERVAL_S": "2",
    "JOB_HEARTBEAT_INTERVAL_S": "1",
    "JOB_STALE_AFTER_S": "10",
    "JOB_REQUEUE_AFTER_S": "3",
    "DOWNLOAD_TIMEOUT_S": "3",
    "SERVE_RESTART_MAX_S": "2",
    # The heavy worker imports these once; each job's horse inherits them (seconds per job).
    "WORKER_PRELOAD_MODULES": "fala_clip.pipeline,video.analysis.pipeline,video.analysis.embeddings,torch,cv2",
}
#: How long Redis stays down in the outage scenario (the issue's figure).
REDIS_OUTAGE_S = float(os.environ.get("FAULT_REDIS_OUTAGE_S", "60"))
#: A tiny job takes ~10-30 s on 2 busy cores; deadlines are generous (they cost nothing when fast).
JOB_DEADLINE_S = 180


# --------------------------------------------------------------------------- a stalling server


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Announces a 2 MB video, sends 64 kB of it, then stalls until the test ends."""

    release = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._headers()

    def do_GET(self) -> None:
        self._headers()
        try:
            self.wfile.write(b"\0" * 65536)
            self.wfile.flush()
        except OSError:
            return
        self.release.wait(120)

    def _headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(2 * 1024 * 1024))
        self.end_headers()


@pytest.fixture(scope="module")
def stalling_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    _StallingHandler.release.set()
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(stalling_server: str) -> Iterator[ServeStack]:
    # Not under pytest's basetemp: PostgreSQL runs as `postgres` (under root) and must traverse the
    # folders above its data, which another pytest session may chmod back to 0700 at any time.
    root = Path(tempfile.mkdtemp(prefix="fala-redis-faults-"))
    services = PrivateServices(root).start()
    st = ServeStack(services, root, extra_env={**STACK_ENV, "DOWNLOAD_ALLOW_HOSTS": stalling_server})
    try:
        st.start()
        # The heavy worker has preloaded its modules and listens.
        wait_for(lambda: heavy_worker_pid(st), timeout=120, what="the heavy worker", stack=st)
        yield st
    finally:
        st.stop()
        left = st.processes()
        services.close()
        shutil.rmtree(root, ignore_errors=True)
    assert left == [], f"processes left after stop: {left}"


@pytest.fixture(scope="module")
def token(stack: ServeStack) -> str:
    return stack.create_artist("faulty")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from fala_clip.media.samples import sample_video

    return sample_video(tmp_path_factory.mktemp("src") / "src.mp4", duration=6.0, width=160, height=120).read_bytes()


# --------------------------------------------------------------------------- /proc helpers


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return []


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def heavy_processes(stack: ServeStack) -> list[int]:
    """The stack's ``manage.py worker heavy`` processes (the worker and its horse, if one runs)."""
    return [p for p in stack.processes() if _cmdline(p)[-2:] == ["worker", "heavy"]]


def heavy_worker_pid(stack: ServeStack) -> int | None:
    """The heavy worker: the heavy process whose parent is not a heavy process (its horse's is)."""
    procs = heavy_processes(stack)
    parents = [p for p in procs if _ppid(p) not in procs]
    return parents[0] if len(parents) == 1 else None


def horse_pid(stack: ServeStack) -> int | None:
    procs = heavy_processes(stack)
    horses = [p for p in procs if _ppid(p) in procs]
    return horses[0] if horses else None


def orphan_horses(stack: ServeStack) -> list[int]:
    """Heavy processes whose parent is not a heavy worker: a work-horse that outlived its worker."""
    procs = heavy_processes(stack)
    return [p for p in procs if _ppid(p) not in procs and "serve.sh" not in " ".join(_cmdline(_ppid(p)))]


def lock_holders(stack: ServeStack) -> list[int]:
    """Processes with the heavy-worker lock file open (only the heavy worker may be one)."""
    lock = str(stack.lock_dir / "heavy-worker-0.lock")
    holders = []
    for pid in stack.processes():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == lock:
                    holders.append(pid)
                    break
            except OSError:
                continue
    return holders


# --------------------------------------------------------------------------- job helpers


def unique(source: bytes) -> bytes:
    """The same video with a distinct checksum (a trailing MP4 ``free`` box), so that no submission
    reuses another's upload or analysis."""
    payload = uuid.uuid4().bytes
    return source + (8 + len(payload)).to_bytes(4, "big") + b"free" + payload


def submit(stack: ServeStack, token: str, source: bytes) -> str:
    resp = stack.api("POST", "/videos", token, files={"file": ("s.mp4", unique(source))}, data={"target_length_s": 15})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job"]["id"])


def job_row(stack: ServeStack, job_id: str) -> dict:
    rows = stack.sql("SELECT status, stage, attempts, error_code, error_message FROM jobs WHERE id = %s", job_id)
    status, stage, attempts, code, message = rows[0]
    return {"status": status, "stage": stage, "attempts": attempts, "error_code": code, "error_message": message}


def wait_status(stack: ServeStack, job_id: str, statuses: set[str], *, timeout: float = JOB_DEADLINE_S) -> dict:
    """Wait for the job to reach one of ``statuses``; meanwhile, no work-horse may lose its worker."""

    def reached() -> dict | None:
        assert orphan_horses(stack) == [], f"a work-horse outlived its worker:\n{stack.log()}"
        row = job_row(stack, job_id)
        return row if row["status"] in statuses else None

    return wait_for(reached, timeout=timeout, what=f"job {job_id} to reach {statuses}", stack=stack)


def transitions(stack: ServeStack, job_id: str) -> list[str]:
    rows = stack.sql(
        "SELECT to_status FROM job_events WHERE job_id = %s AND type = 'transition' ORDER BY created_at, id", job_id
    )
    return [r[0] for r in rows]


def error_codes(stack: ServeStack, job_id: str) -> list[str]:
    rows = stack.sql(
        "SELECT coalesce(data->>'code', data->>'error_code', '') FROM job_events "
        "WHERE job_id = %s AND (type = 'error' OR to_status IN ('queued', 'failed')) ORDER BY created_at, id",
        job_id,
    )
    return [r[0] for r in rows if r[0]]


def assert_clean_done(stack: ServeStack, job_id: str, *, attempts: int = 1) -> None:
    """Done, run exactly ``attempts`` times, no error recorded, its workspace removed, lock held once."""
    row = job_row(stack, job_id)
    assert (row["status"], row["attempts"], row["error_code"]) == ("done", attempts, ""), row
    assert transitions(stack, job_id).count("analyzing") == attempts
    if attempts == 1:
        assert error_codes(stack, job_id) == []
    assert not (stack.work_dir / "jobs" / job_id).exists(), "the job's workspace was left behind"
    variants = stack.sql("SELECT count(*), count(DISTINCT index) FROM rendered_variants WHERE job_id = %s", job_id)
    result = stack.sql("SELECT result FROM jobs WHERE id = %s", job_id)[0][0]
    assert variants[0][0] == variants[0][1] > 0, f"variants rendered twice or never: {variants}; {result}"
    assert_lock_held_by_worker_only(stack)


def assert_lock_held_by_worker_only(stack: ServeStack) -> None:
    worker = wait_for(lambda: heavy_worker_pid(stack), timeout=60, what="a heavy worker", stack=stack)
    assert lock_holders(stack) == [worker]


def wait_stack_idle(stack: ServeStack) -> None:
    """Every job of the stack finished (the next scenario starts on an idle worker)."""
    wait_for(
        lambda: stack.sql("SELECT count(*) FROM jobs WHERE status NOT IN ('done', 'failed')")[0][0] == 0,
        timeout=JOB_DEADLINE_S,
        what="every job to finish",
        stack=stack,
    )


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("status", ["analyzing", "rendering"])
def test_redis_restarted_during_a_job_costs_nothing(stack, token, source, status):
    """Given a job in ``status``, when Redis restarts empty, then the job still ends done, once."""
    job_id = submit(stack, token, source)
    wait_status(stack, job_id, {status, "done", "failed"})
    assert job_row(stack, job_id)["status"] == status, "the job went past the stage to fault"
    stack.services.redis_restart()
    wait_status(stack, job_id, {"done", "failed"})
    assert_clean_done(stack, job_id)


def test_redis_restarted_between_enqueue_and_pickup_the_job_is_enqueued_again(stack, token, source):
    """Given a heavy worker that has not taken the job yet, when Redis loses its queue entry, then the
    reconciler enqueues it again within a few seconds and it runs once."""
    wait_stack_idle(stack)
    worker = heavy_worker_pid(stack)
    assert worker
    os.kill(worker, signal.SIGSTOP)  # the job is enqueued but cannot be taken
    try:
        job_id = submit(stack, token, source)
        wait_for(
            lambda: stack.sql("SELECT enqueued_at IS NOT NULL FROM jobs WHERE id = %s", job_id)[0][0],
            timeout=30,
            what="the enqueue",
            stack=stack,
        )
        stack.services.redis_restart()  # data lost: the queue entry is gone
        back = time.monotonic()
    finally:
        os.kill(worker, signal.SIGCONT)
    wait_status(stack, job_id, {"analyzing", "rendering", "done", "failed"}, timeout=60)
    picked_up_s = elapsed_since(back)
    print(f"lost queue entry: job picked up {picked_up_s:.1f} s after Redis came back")
    wait_status(stack, job_id, {"done", "failed"})
    assert_clean_done(stack, job_id)
    # Within a few maintenance intervals (2 s) + the requeue grace (3 s), not JOB_REQUEUE_AFTER_S = 60 s.
    assert picked_up_s < 30


def test_redis_restarted_during_an_upload(stack, token, source):
    """Given an upload streaming slowly, when Redis restarts in the middle, then it is accepted and done."""
    wait_stack_idle(stack)
    started = threading.Event()
    restarted = threading.Event()
    data = unique(source)

    head = (
        b'--fault\r\nContent-Disposition: form-data; name="target_length_s"\r\n\r\n15\r\n'
        b'--fault\r\nContent-Disposition: form-data; name="file"; filename="s.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )
    payload = head + data + b"\r\n--fault--\r\n"

    class SlowBody:
        """A request body with a known length (Django's parser needs Content-Length) that pauses at
        its middle until Redis has been restarted."""

        pos = 0

        def __len__(self) -> int:
            return len(payload) - self.pos

        def read(self, size: int = -1) -> bytes:
            half = len(payload) // 2
            if self.pos == half:
                started.set()
                assert restarted.wait(30)
            end = len(payload) if size < 0 else self.pos + size
            end = min(end, half) if self.pos < half else end
            chunk = payload[self.pos : end]
            self.pos += len(chunk)
            return chunk

    result: dict = {}

    def upload() -> None:
        result["resp"] = stack.api(
            "POST",
            "/videos",
            token,
            data=SlowBody(),
            headers={"Content-Type": "multipart/form-data; boundary=fault", "Content-Length": str(len(payload))},
        )

    thread = threading.Thread(target=upload)
    thread.start()
    assert started.wait(30)
    stack.services.redis_restart()
    restarted.set()
    thread.join(60)
    resp = result["resp"]
    assert resp.status_code == 202, resp.text
    job_id = str(resp.json()["job"]["id"])
    wait_status(stack, job_id, {"done", "failed"})
    assert_clean_done(stack, job_id)


def test_redis_down_for_a_minute_the_stack_keeps_running_and_resumes(stack, token, source):
    """Given a running job, when Redis is down for 60 s, then the job ends done, no process of the
    stack exits (none restarted), and after Redis is back a new job runs."""
    wait_stack_idle(stack)
    # RQ's scheduler runs in a child of the default worker (delayed webhook retries); RQ ends it
    # when it loses Redis and the worker starts it again at its next maintenance: not one of the
    # stack's supervised processes.
    rq_scheduler = {c for w in stack.processes() if _cmdline(w)[-2:] == ["worker", "default"] for c in child_pids(w)}
    before = sorted(set(stack.processes()) - set(heavy_processes(stack)) - rq_scheduler | {heavy_worker_pid(stack)})
    job_id = submit(stack, token, source)
    wait_status(stack, job_id, {"analyzing", "rendering", "done", "failed"})
    stack.services.redis_stop()
    try:
        down = time.monotonic()
        wait_status(stack, job_id, {"done", "failed"}, timeout=REDIS_OUTAGE_S + JOB_DEADLINE_S)
        while elapsed_since(down) < REDIS_OUTAGE_S:
            assert orphan_horses(stack) == []
            time.sleep(0.5)
        alive = set(stack.processes())
        assert [p for p in before if p not in alive] == [], f"a process exited during the outage:\n{stack.log()}"
        assert "exited with status" not in stack.log()
    finally:
        if not stack.services.redis_ping():
            stack.services.redis_start()  # the next scenarios share this stack
    assert_clean_done(stack, job_id)
    after = submit(stack, token, source)
    wait_status(stack, after, {"done", "failed"})
    assert_clean_done(stack, after)


def test_heavy_worker_killed_mid_render_restarts_and_the_job_ends_done(stack, token, source):
    """Given a job rendering, when the heavy worker is SIGKILLed, then its horse dies with it, serve.sh
    restarts the worker (the lock is free), and the job is retried once (worker_lost) and done."""
    wait_stack_idle(stack)
    job_id = submit(stack, token, source)
    wait_status(stack, job_id, {"rendering", "done", "failed"})
    assert job_row(stack, job_id)["status"] == "rendering"
    worker, horse = heavy_worker_pid(stack), horse_pid(stack)
    assert worker and horse
    assert lock_holders(stack) == [worker], "the work-horse holds the heavy-worker lock"
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: horse not in stack.processes(), timeout=10, what="the horse to die with its worker")
    restarted = wait_for(
        lambda: (p := heavy_worker_pid(stack)) and p != worker and p, timeout=60, what="a new heavy worker", stack=stack
    )
    assert "heavy worker exited with status" in stack.log()
    assert "refusing to start" not in stack.log()
    wait_status(stack, job_id, {"done", "failed"})
    print(f"worker killed: job done {elapsed_since(killed):.1f} s later (new worker {restarted})")
    assert_clean_done(stack, job_id, attempts=2)
    assert error_codes(stack, job_id) == ["worker_lost"]  # the retry, a real lost worker


def test_a_stalled_download_fails_the_job_with_a_timeout(stack, token, stalling_server):
    """Given a URL whose server stalls mid-body, then the job fails with ``timeout`` (after its retry),
    the partial download is gone and no child is left."""
    wait_stack_idle(stack)
    resp = stack.api("POST", "/videos", token, json={"source_url": f"http://{stalling_server}/stall.mp4"})
    assert resp.status_code == 202, resp.text
    job_id = str(resp.json()["job"]["id"])
    row = wait_status(stack, job_id, {"done", "failed"}, timeout=120)
    assert (row["status"], row["error_code"]) == ("failed", "timeout"), row
    assert row["attempts"] == 2
    assert "worker_lost" not in error_codes(stack, job_id)
    # A failed job's workspace is kept for WORKSPACE_RETENTION_S (debugging), but without the partial.
    workspace = stack.work_dir / "jobs" / job_id
    assert [p.name for p in workspace.rglob("*") if p.is_file()] == []
    # Nothing but the stack's own processes: no ffmpeg, no downloader child.
    children = [p for p in stack.processes() if Path(_cmdline(p)[0]).name in ("ffmpeg", "ffprobe")]
    assert children == []
    assert_lock_held_by_worker_only(stack)


def test_ffmpeg_reading_a_stream_that_never_sends_is_killed_by_its_watchdog(tmp_path):
    """Given ffmpeg reading a FIFO that a writer holds open but never writes (a stalled stream),
    then the process layer's deadline kills it: ``ProcessTimeout``, and the child is gone."""
    from fala_clip.media import procs
    from tests.procwatch import proc_alive

    fifo = tmp_path / "stalled.ts"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # holds the FIFO open: ffmpeg never sees an end of file
    try:
        t0 = time.monotonic()
        cmd = [procs.ffmpeg_bin(), "-nostdin", "-i", str(fifo), "-f", "null", "-"]
        with procs.spawn(cmd, timeout=2) as child, pytest.raises(procs.ProcessTimeout, match="timed out after 2 s"):
            child.wait()
        assert not proc_alive(child.pid)
        assert elapsed_since(t0) < 30
    finally:
        os.close(writer)
