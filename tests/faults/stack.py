"""A private production-like stack for fault tests: PostgreSQL, Redis and ``scripts/serve.sh``.

The rest of the suite shares one PostgreSQL and one Redis; a fault test has to stop, restart and
flush its own, so :class:`PrivateServices` starts a PostgreSQL cluster and a ``redis-server`` on
free loopback ports under the test's temporary folder.  :class:`ServeStack` runs the production
supervisor (``scripts/serve.sh``: gunicorn, one heavy worker, a default worker, the scheduler)
against them, with the test settings (short heartbeats, the test job handlers) and every folder
(work dir, media, locks, metrics, static) under the same temporary folder.

Every process the stack starts carries ``FALA_FAULT_STACK=<id>`` in its environment, so
:meth:`ServeStack.processes` finds them wherever they were re-parented (an RQ work-horse calls
``setsid()``; an orphan goes to init): that is how a test proves nothing outlived a fault.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.procwatch import proc_alive, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
PGBIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=None)
AS_ROOT = os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root (CI runs as root): run it as the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *args] if AS_ROOT else args


class PrivateServices:
    """A PostgreSQL and a Redis that belong to one test, on free ports under ``root``."""

    def __init__(self, root: Path) -> None:
        if PGBIN is None:
            raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
        self.root = root
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.pgdata = root / "pg"
        self.redis_dir = root / "redis"
        self.redis_proc: subprocess.Popen[bytes] | None = None

    @property
    def database_url(self) -> str:
        return f"postgres://fala@127.0.0.1:{self.pg_port}/fala"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    # PostgreSQL ---------------------------------------------------------------------------
    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_pg([str(PGBIN / "pg_ctl"), "-D", str(self.pgdata), *args]), check=True, capture_output=True)

    def pg_init(self) -> None:
        self.pgdata.mkdir(parents=True)
        if AS_ROOT:
            # The `postgres` user must be able to reach and own its data folder.
            for parent in [self.root, *self.root.parents]:
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
            shutil.chown(self.pgdata, "postgres", "postgres")
            os.chmod(self.pgdata, 0o700)
        subprocess.run(
            _as_pg([str(PGBIN / "initdb"), "-D", str(self.pgdata), "-U", "fala", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        self.pg_start()
        subprocess.run(
            [str(PGBIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "fala", "fala"],
            check=True,
            capture_output=True,
        )

    def pg_start(self) -> None:
        opts = f"-p {self.pg_port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._pg_ctl("-l", str(self.pgdata / "server.log"), "-w", "-o", opts, "start")

    def pg_stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects every client (what a restart does); ``immediate`` is a crash."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def pg_restart(self, mode: str = "fast") -> None:
        self.pg_stop(mode)
        self.pg_start()

    # Redis --------------------------------------------------------------------------------
    def redis_start(self) -> None:
        """Start an empty Redis (no persistence: a restart loses every key, like a lost node)."""
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis_proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.redis_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self.redis_ping, timeout=10), "private redis-server did not answer"

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def redis_stop(self) -> None:
        if self.redis_proc is not None:
            self.redis_proc.kill()
            self.redis_proc.wait(timeout=10)
            self.redis_proc = None

    def redis_restart(self) -> None:
        self.redis_stop()
        self.redis_start()

    # --------------------------------------------------------------------------------------
    def start(self) -> PrivateServices:
        self.pg_init()
        self.redis_start()
        return self

    def close(self) -> None:
        self.redis_stop()
        try:
            self.pg_stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped by the test


class ServeStack:
    """``scripts/serve.sh`` on :class:`PrivateServices`, driven over HTTP like an artist would."""

    def __init__(self, services: PrivateServices, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.services = services
        self.root = root
        self.stack_id = uuid.uuid4().hex
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.work_dir = root / "work"
        self.media_root = root / "media"
        self.lock_dir = root / "locks"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fala_clip.settings.test",
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "WORK_DIR": str(self.work_dir),
            "MEDIA_ROOT": str(self.media_root),
            "WORKER_LOCK_DIR": str(self.lock_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(root / "prom"),
            "STATIC_ROOT": str(root / "static"),
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_WORKERS": "1",
            "PYTHONPATH": str(REPO_ROOT),
            "FALA_FAULT_STACK": self.stack_id,
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = root / "serve.log"

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=check,
        )

    def start(self, *, timeout: float = 120) -> ServeStack:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts" / "serve.sh")],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert wait_until(self.healthy, timeout=timeout), f"stack did not come up:\n{self.log()}"
        return self

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/jobs", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def create_artist(self, username: str) -> str:
        """A new artist of this stack; returns its API token."""
        return self.manage("create_artist", username).stdout.strip().splitlines()[-1]

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Token {token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the stack's database directly (the source of truth), one short connection per call."""
        import psycopg

        with psycopg.connect(self.services.database_url, connect_timeout=5) as conn:
            return list(conn.execute(query, params).fetchall())

    def processes(self) -> list[int]:
        """Every live process started by this stack, wherever it was re-parented."""
        marker = f"FALA_FAULT_STACK={self.stack_id}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0") and proc_alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def stop(self, *, timeout: float = 30) -> None:
        """Stop the supervisor the way an operator does (SIGTERM), then kill whatever remains."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.processes(), timeout=10)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def wait_for(condition: Any, *, timeout: float, what: str, stack: ServeStack | None = None) -> Any:
    """``wait_until`` that fails with the stack's log tail, for readable fault-test failures."""
    value = wait_until(condition, timeout=timeout, interval=0.2)
    tail = f"\n--- serve.log ---\n{stack.log()}" if stack else ""
    assert value, f"timed out after {timeout} s waiting for {what}{tail}"
    return value


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0
