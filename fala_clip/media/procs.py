"""The one process layer: every ffmpeg, ffprobe and TransNetV2 child starts here.

Plain Python, no Django import (the ``FFMPEG_BIN`` setting is pushed in by
``fala_clip.apps.FalaClipConfig.ready`` through :func:`configure`).

Every child gets the same hygiene:

* **parent-death signal**: the kernel sends the child SIGKILL when the thread
  that started it dies (``PR_SET_PDEATHSIG``), so a killed work-horse (SIGKILL,
  OOM, job timeout) never leaves an ffmpeg writing into a workspace that a
  retried job is about to reuse. The child also checks, after arming the
  signal, that its parent is still the one that forked it (the parent may
  have died in between), and exits at once otherwise. Start children from a
  thread that outlives them (the caller's thread, as :func:`run` does).
* **stderr drained on a thread** into a bounded tail (``keep_stderr`` bytes),
  so a chatty child never blocks on a full pipe and memory stays bounded; the
  tail goes into the error when the child fails.
* **a deadline watchdog** that kills the child after ``timeout`` seconds and
  turns the result into :class:`ProcessTimeout`.
* **progress**: ``on_progress`` receives ffmpeg ``-progress pipe:1`` blocks
  (key=value lines) as :class:`Progress`; ``on_stdout`` receives raw stdout
  chunks (for raw-frame readers); :func:`spawn` hands the pipes to a caller
  that reads them itself.
* **one error type**, :class:`ProcessError` (:class:`ProcessTimeout` for the
  deadline), carrying the command, the exit status and the stderr tail.
* **one log line per waited child** on ``fala_clip.media.procs``: INFO with its
  duration, WARNING with the command and stderr tail when it failed or timed out,
  written by the waiting thread so that the job's ids are on it.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

__all__ = [
    "ProcessError",
    "ProcessTimeout",
    "Progress",
    "parse_progress_line",
    "Completed",
    "Child",
    "spawn",
    "run",
    "die_with_parent",
    "ffmpeg_bin",
    "ffprobe_bin",
    "local_input",
    "stderr_tail",
    "STDERR_TAIL_CHARS",
]

#: How much of stderr an error message keeps (ffmpeg prints the useful line last).
STDERR_TAIL_CHARS = 2000
#: How much of a failed child's stderr its log line keeps.
LOG_STDERR_CHARS = 1000
#: How much of stderr a child keeps in memory by default (the loudnorm
#: measurement prints its JSON at the very end: a few hundred bytes).
KEEP_STDERR_BYTES = 64 * 1024

# --------------------------------------------------------------------------- errors


class ProcessError(RuntimeError):
    """A child process failed (non-zero exit, missing binary, killed).

    ``returncode`` is the exit status (``None`` when it never ran or was
    killed for its deadline), ``stderr_tail`` the last part of what it
    printed, ``cmd`` the argument list (paths included: log it only where
    paths are not secret).
    """

    def __init__(self, message: str, *, cmd: Sequence[str], returncode: int | None, stderr_tail: str):
        super().__init__(f"{message}: {stderr_tail.strip()}" if stderr_tail.strip() else message)
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ProcessTimeout(ProcessError):
    """The child ran past its deadline and was killed."""


def stderr_tail(data: bytes | str | None, limit: int = STDERR_TAIL_CHARS) -> str:
    """Decode and keep the last ``limit`` characters of a process' stderr."""
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
    return text[-limit:]


# --------------------------------------------------------------------------- parent-death signal

_PR_SET_PDEATHSIG = 1
# dlopen(NULL): the process's own symbols, libc's among them (ctypes.util.find_library runs
# ``ldconfig -p`` in a subprocess, ~40 ms at every start of a worker, a command, the music child).
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_prctl = _libc.prctl if _libc is not None else None


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` arming SIGKILL on parent death (None where unsupported).

    It runs in the child between fork and exec, so it stays tiny: arm the
    signal, then exit if the parent already died (the signal only fires on a
    death *after* it is armed).
    """
    if _prctl is None:
        return None
    prctl = _prctl
    parent = os.getpid()

    def _arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return _arm


# --------------------------------------------------------------------------- binaries


#: The ``FFMPEG_BIN`` setting, pushed in by ``FalaClipConfig.ready()`` (and again when a
#: test overrides it): the layer itself stays free of Django imports.
_ffmpeg_setting: str | None = None


def configure(*, ffmpeg: str | None) -> None:
    """Set the ffmpeg binary (empty/None = ``ffmpeg`` on PATH)."""
    global _ffmpeg_setting
    _ffmpeg_setting = ffmpeg or None


def ffmpeg_bin() -> str:
    """The ffmpeg binary: the ``FFMPEG_BIN`` setting, else ``ffmpeg`` on PATH."""
    return _ffmpeg_setting or shutil.which("ffmpeg") or "ffmpeg"


def local_input(path: str | os.PathLike[str]) -> list[str]:
    """ffmpeg input arguments that open only this local file: ``-protocol_whitelist file``
    and a ``file:`` URL of its absolute path (a crafted playlist or a name with a colon
    can never make ffmpeg reach the network or another protocol)."""
    return ["-protocol_whitelist", "file", "-i", "file:" + os.path.abspath(os.fspath(path))]


def ffprobe_bin() -> str:
    """The ffprobe next to :func:`ffmpeg_bin` when it names a path, else on PATH."""
    ff = ffmpeg_bin()
    if os.sep in ff:
        name = Path(ff).name.replace("ffmpeg", "ffprobe") if "ffmpeg" in Path(ff).name else "ffprobe"
        sibling = Path(ff).with_name(name)
        if sibling.is_file() and os.access(sibling, os.X_OK):
            return str(sibling)
    return shutil.which("ffprobe") or "ffprobe"


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class Progress:
    """One ffmpeg ``-progress`` block (the key=value lines up to ``progress=``)."""

    state: Mapping[str, str]
    ended: bool  # progress=end: ffmpeg finished writing

    @property
    def out_time_s(self) -> float | None:
        """Output time in seconds (``out_time_us``; None while ffmpeg reports N/A)."""
        # out_time_ms is also microseconds (a long-standing ffmpeg quirk).
        for key in ("out_time_us", "out_time_ms"):
            raw = self.state.get(key)
            if raw and raw != "N/A":
                try:
                    return max(int(raw), 0) / 1e6
                except ValueError:
                    continue
        return None


def parse_progress_line(line: str, state: dict[str, str]) -> str | None:
    """Fold one ``-progress`` line into ``state``; return the ``progress`` value when a block ends."""
    key, sep, value = line.strip().partition("=")
    if not sep:
        return None
    state[key] = value
    return value if key == "progress" else None


class _ProgressParser:
    def __init__(self, callback: Callable[[Progress], None]):
        self.callback = callback
        self.state: dict[str, str] = {}
        self.ended = False
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            flag = parse_progress_line(raw.decode("utf-8", "replace"), self.state)
            if flag is not None:
                self.ended = self.ended or flag == "end"
                self.callback(Progress(state=dict(self.state), ended=flag == "end"))


# --------------------------------------------------------------------------- children


@dataclass
class Completed:
    """A finished child: its exit status, stdout (when captured) and stderr tail."""

    cmd: list[str]
    returncode: int
    stdout: bytes | bytearray
    stderr: bytes  # the bounded tail (``keep_stderr`` bytes)
    seconds: float
    progress_ended: bool = False  # saw ffmpeg's ``progress=end``
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class Child:
    """A running child with the layer's hygiene; use as a context manager.

    ``stdout`` is the child's stdout pipe when ``stdout=True`` (read it
    yourself), else None. Leaving the ``with`` block by an exception kills
    the child; :meth:`wait` collects it and raises :class:`ProcessError` /
    :class:`ProcessTimeout` (``check=True``).
    """

    def __init__(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        *,
        timeout: float | None,
        stdout: bool = True,
        stdin: bytes | None = None,
        pass_fds: Collection[int] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        what: str | None = None,
        keep_stderr: int = KEEP_STDERR_BYTES,
    ):
        self.cmd = [os.fspath(c) for c in cmd]
        self.what = what or Path(self.cmd[0]).name
        self.timeout = timeout
        self._keep = keep_stderr
        self._err: collections.deque[bytes] = collections.deque()
        self._err_len = 0
        self._timed_out = threading.Event()
        self.t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=tuple(pass_fds),
                env=dict(env) if env is not None else None,
                cwd=cwd,
                preexec_fn=die_with_parent(),
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise ProcessError(
                f"{self.what}: cannot execute {self.cmd[0]}", cmd=self.cmd, returncode=None, stderr_tail=str(exc)
            ) from None
        self.pid = self.proc.pid
        self.stdout: IO[bytes] | None = self.proc.stdout
        self._drain = threading.Thread(target=self._drain_stderr, name=f"{self.what}-stderr", daemon=True)
        self._drain.start()
        self._feeder: threading.Thread | None = None
        if stdin is not None:
            self._feeder = threading.Thread(target=self._feed_stdin, args=(stdin,), daemon=True)
            self._feeder.start()
        self._watchdog: threading.Timer | None = None
        if timeout is not None:
            self._watchdog = threading.Timer(timeout, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()

    # -- threads
    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        read = getattr(stream, "read1", stream.read)  # read1: whatever is there, no waiting to fill 8 kB
        for chunk in iter(lambda: read(8192), b""):
            self._err.append(chunk)
            self._err_len += len(chunk)
            while self._err_len - len(self._err[0]) >= self._keep:
                self._err_len -= len(self._err.popleft())
        stream.close()

    def _feed_stdin(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _expire(self) -> None:
        self._timed_out.set()
        self.kill()

    # -- public
    @property
    def timed_out(self) -> bool:
        return self._timed_out.is_set()

    @property
    def stderr(self) -> bytes:
        """What is kept of stderr so far (the last ``keep_stderr`` bytes)."""
        data = b"".join(list(self._err))
        return data[-self._keep :]

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:  # pragma: no cover - exited in between
                pass

    def wait(self, *, check: bool = True) -> int:
        """Wait for the child, stop the watchdog, join the drain; return the exit status.

        Raises :class:`ProcessTimeout` when the watchdog killed it (always) and
        :class:`ProcessError` on a non-zero exit (when ``check``).
        """
        rc = self.proc.wait()
        self._finish()
        self._log_end(rc)
        if self.timed_out:
            raise ProcessTimeout(
                f"{self.what} timed out after {self.timeout:g} s",
                cmd=self.cmd,
                returncode=None,
                stderr_tail=stderr_tail(self.stderr),
            )
        if check:
            self.check(rc)
        return rc

    def _log_end(self, rc: int) -> None:
        # One line per child, written from the thread that waits for it (the job's thread):
        # the logging filter stamps the job and request ids bound there (fala_clip.logging).
        # The drain/feeder/watchdog threads never log: they would not see those ids.
        fields: dict[str, object] = {
            "child": self.what,
            "child_pid": self.pid,
            "exit_code": rc,
            "seconds": round(time.monotonic() - self.t0, 3),
        }
        if self.timed_out or rc != 0:
            fields["stderr_tail"] = stderr_tail(self.stderr, LOG_STDERR_CHARS)
            fields["cmd"] = " ".join(self.cmd)
            state = f"timed out after {self.timeout:g} s" if self.timed_out else f"failed with exit status {rc}"
            log.warning("%s %s", self.what, state, extra=fields)
        else:
            log.info("%s finished in %.1f s", self.what, fields["seconds"], extra=fields)

    def check(self, rc: int) -> None:
        """Raise :class:`ProcessError` for a non-zero exit status."""
        tail = stderr_tail(self.stderr)
        if rc != 0:
            raise ProcessError(
                f"{self.what} failed with exit status {rc}", cmd=self.cmd, returncode=rc, stderr_tail=tail
            )

    def _finish(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._drain.join(timeout=10)
        if self._feeder is not None:
            self._feeder.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Leaving the block by an exception, or without waiting: the caller is
        # done with the child, so it must not outlive the block.
        if exc_type is not None or self.proc.returncode is None:
            self.kill()
            self.proc.wait()
            self._finish()


def spawn(cmd: Sequence[str | os.PathLike[str]], **kwargs: object) -> Child:
    """Start ``cmd`` (no shell) with the layer's hygiene; see :class:`Child`."""
    return Child(cmd, **kwargs)  # type: ignore[arg-type]


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = 600.0,
    input: bytes | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
    capture_stdout: bool = True,
    chunk_size: int = 1 << 16,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    what: str | None = None,
    check: bool = True,
    keep_stderr: int = KEEP_STDERR_BYTES,
) -> Completed:
    """Run ``cmd`` to completion and return :class:`Completed`.

    stdout goes, chunk by chunk, to ``on_stdout`` and/or the ``-progress``
    parser (``on_progress``); it is also collected into ``Completed.stdout``
    unless ``capture_stdout`` is false or a consumer is given. An exception
    raised by a callback kills the child and propagates (how a caller
    cancels). Raises :class:`ProcessTimeout` past ``timeout`` seconds (even
    with ``check=False``) and :class:`ProcessError` on a non-zero exit
    (``check=True``).
    """
    parser = _ProgressParser(on_progress) if on_progress is not None else None
    collect = capture_stdout and on_stdout is None and parser is None
    want_stdout = collect or on_stdout is not None or parser is not None
    out = bytearray()
    with Child(
        cmd, timeout=timeout, stdout=want_stdout, stdin=input, env=env, cwd=cwd, what=what, keep_stderr=keep_stderr
    ) as child:
        if child.stdout is not None:
            read = getattr(child.stdout, "read1", child.stdout.read)
            for chunk in iter(lambda: read(chunk_size), b""):
                if collect:
                    out += chunk
                if parser is not None:
                    parser.feed(chunk)
                if on_stdout is not None:
                    on_stdout(chunk)
        rc = child.wait(check=check)
    return Completed(
        cmd=child.cmd,
        returncode=rc,
        stdout=out,
        stderr=child.stderr,
        seconds=time.monotonic() - child.t0,
        progress_ended=parser.ended if parser is not None else False,
    )
