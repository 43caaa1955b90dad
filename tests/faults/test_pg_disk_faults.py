"""Fault suite: PostgreSQL restarts and full disks against the production supervisor.

Each scenario runs on a real ``scripts/serve.sh`` stack (gunicorn, heavy and default
RQ workers, the scheduler) over a private PostgreSQL and Redis (``tests/faults/stack.py``),
with tiny generated media so jobs take seconds.  Every job must end ``done`` or
``failed`` with a clear code, run once (one claim, one attempt, each transition once),
never be counted as ``worker_lost``, leave no partial file; after the stack stops no
process of it survives and the heavy-worker lock is free.

The heartbeat is 1 s and a job counts as abandoned after 8 s without one (the
reconciler runs every 2 s), so a job whose heartbeat died with its connection
would be caught as ``worker_lost`` well inside each scenario.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fala_clip.media.samples import sample_video
from tests.faults.stack import PrivateServices, ServeStack, wait_for

pytestmark = [pytest.mark.slow]

FAST_JOBS = {
    "RENDER_PRESET": "ultrafast",
    "JOB_HEARTBEAT_INTERVAL_S": "1",
    "JOB_STALE_AFTER_S": "8",
    "WORKER_MAINTENANCE_INTERVAL_S": "2",
}
ANALYSIS_STAGES = {"decode", "shots", "motion", "audio", "speech", "transcript", "impacts", "faces", "saliency"}
# What the test measured, printed at the end of the module (docs/operations.md's fault table).
FIGURES: dict[str, float] = {}


# ----------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _private_root(prefix: str) -> Iterator[Path]:
    """A folder of our own under /tmp (the ``postgres`` user must reach it; pytest's shared
    ``/tmp/pytest-of-<user>`` is reset to mode 0700 by any other pytest run of that user)."""
    root = Path(tempfile.mkdtemp(prefix=f"fala-{prefix}-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _job(stack: ServeStack, job_id: str) -> dict[str, Any]:
    cols = ("status", "stage", "attempts", "error_code", "error_message", "progress", "updated_at")
    row = stack.sql(f"SELECT {', '.join(cols)} FROM jobs WHERE id = %s", job_id)[0]
    return dict(zip(cols, row, strict=True))


def _transitions(stack: ServeStack, job_id: str) -> list[str]:
    rows = stack.sql("SELECT to_status FROM job_events WHERE job_id = %s AND type = 'transition' ORDER BY id", job_id)
    return [r[0] for r in rows]


def _events_mentioning(stack: ServeStack, job_id: str, text: str) -> int:
    rows = stack.sql(
        "SELECT count(*) FROM job_events WHERE job_id = %s AND (message ILIKE %s OR data::text ILIKE %s)",
        job_id,
        f"%{text}%",
        f"%{text}%",
    )
    return int(rows[0][0])


def _variants(stack: ServeStack, job_id: str) -> list[tuple[str, str, str]]:
    rows = stack.sql(
        "SELECT status, error_code, error_message FROM rendered_variants WHERE job_id = %s ORDER BY index", job_id
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _ended(stack: ServeStack, job_id: str) -> dict[str, Any] | None:
    job = _job(stack, job_id)
    return job if job["status"] in ("done", "failed") else None


def _submit(stack: ServeStack, token: str, video: Path) -> tuple[str, str]:
    with video.open("rb") as fh:
        resp = stack.api("POST", "/videos", token, files={"file": ("s.mp4", fh)}, data={"target_length_s": 15})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    return body["job"]["id"], body["video"]["id"]


def _assert_clean_run(stack: ServeStack, job_id: str, *, transitions: list[str]) -> None:
    """Ran once, in one attempt, never taken for a lost worker, nothing retried."""
    job = _job(stack, job_id)
    assert _transitions(stack, job_id) == transitions
    assert job["attempts"] == 1
    assert _events_mentioning(stack, job_id, "worker_lost") == 0
    assert _events_mentioning(stack, job_id, "retry") == 0


def _assert_stack_stops_clean(stack: ServeStack) -> None:
    stack.stop()
    assert stack.processes() == []
    for lock in stack.lock_dir.glob("heavy-worker-*.lock"):
        with lock.open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError when still held


def _restart_pg(services: PrivateServices) -> float:
    """A fast restart (every client disconnected); returns when PostgreSQL answers again."""
    services.pg_restart("fast")
    return time.time()


def _recovered_after(stack: ServeStack, job_id: str, since: float, *, timeout: float) -> float:
    """Seconds from ``since`` (PostgreSQL back) to the job's next write."""

    def wrote() -> float | None:
        job = _job(stack, job_id)
        return job["updated_at"].timestamp() if job["updated_at"].timestamp() > since else None

    return float(wait_for(wrote, timeout=timeout, what="the job's first write after the restart", stack=stack)) - since


def _create_gate_job(stack: ServeStack, username: str, tmp: Path, *, query: bool) -> tuple[str, Path, Path]:
    """A ``test_gate`` job (tests/jobs/handlers.py): it waits for the test to open its gate."""
    ready, gate = tmp / f"ready-{uuid.uuid4().hex}", tmp / f"gate-{uuid.uuid4().hex}"
    params = {"ready": str(ready), "gate": str(gate), "query": query}
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.db import transaction\n"
        "from jobs.dispatch import job_enqueue\n"
        "from jobs.services import job_create\n"
        f"owner = get_user_model().objects.get(username={username!r})\n"
        "with transaction.atomic():\n"
        f"    job = job_create(owner=owner, kind='test_gate', params={json.dumps(params)!s})\n"
        "    job_enqueue(job=job)\n"
        "print(job.pk)\n"
    )
    out = stack.manage("shell", "-c", code.replace("true", "True").replace("false", "False"))
    return out.stdout.strip().splitlines()[-1], ready, gate


# ----------------------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg_stack() -> Iterator[tuple[PrivateServices, ServeStack, str, Path]]:
    with _private_root("pgfault") as root:
        services = PrivateServices(root / "svc").start()
        (root / "stack").mkdir()
        stack = ServeStack(services, root / "stack", FAST_JOBS)
        try:
            stack.start()
            token = stack.create_artist("pgfault")
            yield services, stack, token, root
        finally:
            stack.stop()
            services.close()
            if os.environ.get("FAULT_LOG_COPY"):
                shutil.copy(stack.log_path, os.environ["FAULT_LOG_COPY"])
        if FIGURES:
            print("\nfault figures (s):", json.dumps({k: round(v, 2) for k, v in FIGURES.items()}))


def test_postgres_restarts_during_analysis_and_rendering_cost_nothing(pg_stack):
    """Two restarts during the analysis and one during the render: the job ends done, first time."""
    services, stack, token, root = pg_stack
    video = sample_video(root / "pg-src.mp4", duration=12.0, width=320, height=240)
    job_id, video_id = _submit(stack, token, video)

    # Given the job is analysing, when PostgreSQL restarts twice in a row
    wait_for(lambda: _job(stack, job_id)["stage"] in ANALYSIS_STAGES, timeout=90, what="analysis", stack=stack)
    back = _restart_pg(services)
    FIGURES["pg_restart_analysis_recover_s"] = _recovered_after(stack, job_id, back, timeout=60)
    job = _job(stack, job_id)
    assert job["status"] == "analyzing", (job["error_message"], stack.log())
    back = _restart_pg(services)
    FIGURES["pg_second_restart_recover_s"] = _recovered_after(stack, job_id, back, timeout=60)

    # and once more while the first variant renders
    wait_for(
        lambda: (j := _job(stack, job_id))["status"] == "rendering" and (j["progress"] or {}).get("percent", 0) > 0,
        timeout=120,
        what="rendering",
        stack=stack,
    )
    back = _restart_pg(services)
    FIGURES["pg_restart_render_recover_s"] = _recovered_after(stack, job_id, back, timeout=60)

    # Then it ends done in its first attempt, each transition once, nothing taken for a lost worker
    job = wait_for(lambda: _ended(stack, job_id), timeout=180, what="the job to end", stack=stack)
    assert job["status"] == "done", job
    _assert_clean_run(stack, job_id, transitions=["queued", "analyzing", "rendering", "done"])
    assert [v[0] for v in _variants(stack, job_id)] == ["done", "done"]
    assert not (stack.work_dir / "jobs" / job_id).exists()  # delivered: no workspace left
    resp = stack.api("GET", f"/videos/{video_id}/renders", token)
    assert resp.status_code == 200


@pytest.mark.parametrize("query", [False, True], ids=["transition", "step-query"])
def test_postgres_down_across_a_transition(pg_stack, query):
    """PostgreSQL is down when the handler returns: the refresh and ``done`` wait for it, once.

    ``step-query``: the first database use after the fault is a plain query of the
    handler (not a job service): the runner reconnects and resumes the handler in place.
    """
    services, stack, token, root = pg_stack
    job_id, ready, gate = _create_gate_job(stack, "pgfault", root, query=query)
    wait_for(ready.exists, timeout=60, what="the job to wait at its gate", stack=stack)

    # Given PostgreSQL is stopped (clients disconnected), when the job's handler returns
    services.pg_stop("fast")
    t_down = time.monotonic()
    # what the work-horse logs once it meets the stopped server (the heartbeat thread logs its own)
    said = "resuming" if query else "database connection lost during reading the job"
    log_before = stack.log_path.read_text(errors="replace").count(said)
    gate.touch()
    wait_for(
        lambda: stack.log_path.read_text(errors="replace").count(said) > log_before,
        timeout=30,
        what="the job to notice the database is gone",
        stack=stack,
    )
    services.pg_start()
    back = time.time()
    FIGURES[f"pg_down_{'step' if query else 'transition'}_s"] = time.monotonic() - t_down

    # Then it ends done, in one attempt, one done transition
    job = wait_for(lambda: _ended(stack, job_id), timeout=60, what="the job to end", stack=stack)
    FIGURES[f"pg_down_{'step' if query else 'transition'}_recover_s"] = job["updated_at"].timestamp() - back
    assert job["status"] == "done", job
    _assert_clean_run(stack, job_id, transitions=["queued", "analyzing", "done"])
    assert _events_mentioning(stack, job_id, "resumed where the job stopped") == (1 if query else 0)


def test_pg_stack_stops_clean(pg_stack):
    """After the faults: stopping the supervisor leaves no process and no held lock."""
    _services, stack, _token, _root = pg_stack
    _assert_stack_stops_clean(stack)


# ----------------------------------------------------------------------------------------- disk full
DISK_SIZE = 64 * 1024**2
FLOOR = 8 * 1024**2


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _fill(mount: Path, *, leave: int = 0) -> Path:
    """Fill ``mount`` until ``leave`` bytes are free (0: completely, to ENOSPC)."""
    filler = mount / f"filler-{uuid.uuid4().hex}"
    try:
        with filler.open("wb", buffering=0) as fh:
            if leave:
                os.posix_fallocate(fh.fileno(), 0, _free(mount) - leave)
            else:
                # In blocks, down to 4 KiB: someone else (an upload) may be writing meanwhile.
                for block in (b"\0" * 1024**2, b"\0" * 4096):
                    with contextlib.suppress(OSError):
                        while True:
                            fh.write(block)
    except BaseException:
        filler.unlink(missing_ok=True)
        raise
    return filler


def _files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def disk_stack() -> Iterator[tuple[ServeStack, str, Path, Path]]:
    with _private_root("diskfault") as root:
        yield from _disk_stack(root)


def _disk_stack(root: Path) -> Iterator[tuple[ServeStack, str, Path, Path]]:
    mount = root / "disk"
    mount.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {exc}")
    services = PrivateServices(root / "svc").start()
    (root / "stack").mkdir()
    env = {
        **FAST_JOBS,
        "WORK_DIR": str(mount / "work"),
        "MEDIA_ROOT": str(mount / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(mount / "work" / "incoming"),
        "UPLOAD_MIN_FREE_BYTES": str(FLOOR),
    }
    stack = ServeStack(services, root / "stack", env)
    try:
        stack.start()
        yield stack, stack.create_artist("diskfault"), mount, root
    finally:
        stack.stop()
        services.close()
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
        if os.environ.get("FAULT_LOG_COPY"):
            shutil.copy(stack.log_path, os.environ["FAULT_LOG_COPY"] + ".disk")


def _counts(stack: ServeStack) -> tuple[int, int]:
    videos = int(stack.sql("SELECT count(*) FROM video_ingests")[0][0])
    return videos, int(stack.sql("SELECT count(*) FROM jobs")[0][0])


def test_upload_refused_up_front_below_the_floor(disk_stack):
    stack, token, mount, root = disk_stack
    video = sample_video(root / "up-src.mp4", duration=12.0, width=320, height=240)
    before = _counts(stack)
    incoming = mount / "work" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)

    # Given less than the floor is free, when an artist uploads
    filler = _fill(mount, leave=FLOOR - 1024**2)
    try:
        resp = _submit_raw(stack, token, video.read_bytes())
        # Then 507 in the error shape, nothing created, nothing written
        assert resp[0] == 507, resp
        assert resp[1]["error"]["code"] == "insufficient_storage"
        assert _counts(stack) == before
        assert _files_under(incoming) == []
    finally:
        filler.unlink()

    # Given the floor is free but not the declared body on top of it
    filler = _fill(mount, leave=FLOOR + 512 * 1024)
    try:
        status, body = _submit_raw(stack, token, os.urandom(2 * 1024**2))
        assert status == 507 and body["error"]["details"]["required_bytes"] > body["error"]["details"]["free_bytes"]
        assert _counts(stack) == before
    finally:
        filler.unlink()

    # When space is back, uploads get past the guard again (this one to the media gate: not a video)
    status, body = _submit_raw(stack, token, b"not a video" * 1000)
    assert status == 400, body
    assert _counts(stack) == before and _files_under(incoming) == []


def _submit_raw(
    stack: ServeStack, token: str, payload: bytes, *, after_first_mib: Any = None
) -> tuple[int, dict[str, Any]]:
    """POST /videos as multipart, sending the body in pieces; ``after_first_mib`` runs mid-body."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="target_length_s"\r\n\r\n15\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = head + payload + tail
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    try:
        conn.putrequest("POST", "/videos")
        conn.putheader("Authorization", f"Token {token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        mib = 1024**2
        conn.send(body[:mib])
        if after_first_mib is not None:
            after_first_mib()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for i in range(mib, len(body), mib):
                conn.send(body[i : i + mib])
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()  # never leave the (one, synchronous) web worker waiting for a body
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, {"raw": data[:500].decode(errors="replace")}


def test_disk_fills_mid_upload(disk_stack):
    """The disk fills while the body is spooled: 507, the spool file removed, later uploads work."""
    stack, token, mount, root = disk_stack
    incoming = mount / "work" / "incoming"
    before = _counts(stack)
    fillers: list[Path] = []

    def fill_once_spooling() -> None:
        wait_for(lambda: _files_under(incoming), timeout=30, what="the upload spool file", stack=stack)
        fillers.append(_fill(mount))

    # Given enough space when it starts (12 MiB: over the in-memory limit, so Django spools it)
    try:
        status, body = _submit_raw(stack, token, os.urandom(12 * 1024**2), after_first_mib=fill_once_spooling)
        # Then 507 in the error shape, nothing created, no partial left
        assert status == 507, body
        assert body["error"]["code"] == "insufficient_storage"
        assert _counts(stack) == before
        wait_for(lambda: _files_under(incoming) == [], timeout=10, what="the spool file to go", stack=stack)
    finally:
        for f in fillers:
            f.unlink()
    # When space is back, uploads get past the guard again (this one to the media gate: not a video)
    status, body = _submit_raw(stack, token, b"not a video" * 1000)
    assert status == 400, body
    assert _counts(stack) == before and _files_under(incoming) == []


def _assert_failed_disk_full(stack: ServeStack, job_id: str, mount: Path) -> dict[str, Any]:
    job = wait_for(lambda: _ended(stack, job_id), timeout=120, what="the job to end", stack=stack)
    assert job["status"] == "failed", job
    assert job["error_code"] == "disk_full"
    assert "/" not in job["error_message"] and str(mount) not in job["error_message"]
    assert job["attempts"] == 1
    assert _events_mentioning(stack, job_id, "worker_lost") == 0
    assert _transitions(stack, job_id)[-1] == "failed"
    # no variant left pending, no partial: the workspace is gone, no render of this job stored
    assert all(v[0] in ("done", "failed") for v in _variants(stack, job_id))
    assert all(str(mount) not in (v[2] or "") for v in _variants(stack, job_id))
    assert not (stack.work_dir / "jobs" / job_id).exists()
    return job


def test_disk_full_during_analysis(disk_stack):
    """The disk fills while the video is analysed: the job fails at its next write (the previews)."""
    stack, token, mount, root = disk_stack
    video = sample_video(root / "an-src.mp4", duration=12.0, width=320, height=240)
    job_id, _video_id = _submit(stack, token, video)
    wait_for(lambda: _job(stack, job_id)["stage"] in ANALYSIS_STAGES, timeout=90, what="analysis", stack=stack)
    filler = _fill(mount)
    try:
        job = _assert_failed_disk_full(stack, job_id, mount)
        assert _transitions(stack, job_id) == ["queued", "analyzing", "failed"]
        assert job["stage"] in ANALYSIS_STAGES | {"embeddings", "novelty", "suggesting", "previews"}
    finally:
        filler.unlink()


def test_disk_full_during_rendering(disk_stack):
    stack, token, mount, root = disk_stack
    # the analysis test's file: its analysis was stored before the disk filled and is reused here
    video = root / "an-src.mp4"
    job_id, _video_id = _submit(stack, token, video)
    wait_for(
        lambda: (j := _job(stack, job_id))["status"] == "rendering" and (j["progress"] or {}).get("percent", 0) > 0,
        timeout=120,
        what="rendering",
        stack=stack,
    )
    filler = _fill(mount)
    try:
        _assert_failed_disk_full(stack, job_id, mount)
        assert _transitions(stack, job_id) == ["queued", "analyzing", "rendering", "failed"]
        variants = _variants(stack, job_id)
        assert [v[1] for v in variants] == ["disk_full", "not_rendered"]
        assert stack.sql("SELECT count(*) FROM rendered_variants WHERE job_id = %s AND file <> ''", job_id)[0][0] == 0
        renders = mount / "media" / "renders"
        assert not any(job_id in p for p in _files_under(renders)) if renders.exists() else True
    finally:
        filler.unlink()


def test_disk_stack_stops_clean(disk_stack):
    stack, _token, mount, _root = disk_stack
    _assert_stack_stops_clean(stack)
    assert _files_under(mount / "work" / "incoming") == []
