"""The process layer: stderr tail, deadline watchdog, progress, stdout consumers, binaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fala_clip.media import procs
from fala_clip.media.ffmpeg import FFmpegError, FFmpegTimeout, run_ffmpeg
from fala_clip.media.procs import ProcessError, ProcessTimeout, Progress, ffmpeg_bin, ffprobe_bin, run, spawn
from tests.procwatch import child_pids, proc_alive, wait_until


def test_the_ffmpeg_error_names_are_the_layer_error():
    # given the facade's names / then they are the one error type of the layer
    assert FFmpegError is ProcessError and FFmpegTimeout is ProcessTimeout
    assert issubclass(ProcessTimeout, ProcessError)


def test_failure_carries_command_exit_status_and_a_bounded_stderr_tail():
    # given a child that prints 200 kB to stderr, then a last line, and exits 3
    script = "import sys; sys.stderr.write('x' * 200_000 + '\\nLAST LINE\\n'); sys.exit(3)"
    cmd = [sys.executable, "-c", script]
    # when it runs through the layer keeping 4 kB of stderr
    with pytest.raises(ProcessError) as info:
        run(cmd, timeout=30, keep_stderr=4096, what="chatty")
    # then the error has the command, the status and the tail, bounded
    err = info.value
    assert err.cmd == cmd and err.returncode == 3
    assert err.stderr_tail.endswith("LAST LINE\n")
    assert len(err.stderr_tail) == procs.STDERR_TAIL_CHARS
    assert str(err).startswith("chatty failed with exit status 3: ")


def test_the_kept_stderr_never_exceeds_its_bound():
    # given a child printing 1 MB to stderr in small writes, exiting 0
    script = "import sys\nfor i in range(20000): sys.stderr.write('%049d\\n' % i)"
    with spawn([sys.executable, "-c", script], timeout=30, keep_stderr=10_000) as child:
        rc = child.wait()
    # then at most the bound is kept, ending with the last line
    assert rc == 0
    assert 0 < len(child.stderr) <= 10_000
    assert child.stderr.endswith(b"%049d\n" % 19999)


def test_ffmpeg_failure_tail_names_the_missing_input(tmp_path):
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg("-i", str(tmp_path / "missing.mp4"), "-f", "null", "-", timeout=30)
    assert info.value.returncode not in (0, None)
    assert "missing.mp4" in info.value.stderr_tail and "No such file" in str(info.value)


def test_watchdog_kills_an_endless_ffmpeg_and_raises_the_timeout_error():
    # given ffmpeg reading an endless lavfi source, with a 1 s deadline
    cmd = [ffmpeg_bin(), "-nostdin", "-hide_banner", "-re", "-f", "lavfi", "-i", "testsrc", "-f", "null", "-"]
    t0 = time.monotonic()
    with spawn(cmd, timeout=1.0, stdout=False, what="endless") as child:
        pid = child.pid
        # when we wait for it
        with pytest.raises(ProcessTimeout) as info:
            child.wait()
    elapsed = time.monotonic() - t0
    # then it was killed at the deadline, reaped, and the error says so
    assert 1.0 <= elapsed < 10.0
    assert not proc_alive(pid)
    assert info.value.returncode is None and child.proc.returncode == -signal.SIGKILL
    assert str(info.value).startswith("endless timed out after 1 s")


def test_progress_callback_gets_monotonic_out_times_ending_at_the_duration(tmp_path):
    # given a 2 s real-time encode reporting progress every 0.1 s
    blocks: list[Progress] = []
    done = run_ffmpeg(
        "-stats_period",
        "0.1",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x64:rate=25:duration=2",
        "-f",
        "null",
        "-",
        timeout=60,
        on_progress=blocks.append,
    )
    times = [b.out_time_s for b in blocks if b.out_time_s is not None]
    # then: many blocks, non-decreasing times, the last one is progress=end at 2 s
    assert len(times) >= 5
    assert times == sorted(times)
    assert blocks[-1].ended and not any(b.ended for b in blocks[:-1])
    assert done.progress_ended
    assert times[-1] == pytest.approx(2.0, abs=0.05)


def test_stdout_consumer_receives_every_raw_frame_byte():
    # given ffmpeg writing 10 raw 32x16 rgb24 frames to stdout
    cmd = [
        *(ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error"),
        *("-f", "lavfi", "-i", "testsrc=size=32x16:rate=10:duration=1"),
        *("-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"),
    ]
    got: list[bytes] = []
    done = run(cmd, timeout=30, on_stdout=got.append, chunk_size=100)
    # then the consumer saw all bytes (in chunks of at most 100) and nothing was collected twice
    assert sum(map(len, got)) == 10 * 32 * 16 * 3
    assert max(map(len, got)) <= 100
    assert done.stdout == b""


def test_an_exception_in_a_consumer_kills_the_child():
    # given an endless ffmpeg writing to stdout and a consumer that gives up
    cmd = [ffmpeg_bin(), "-nostdin", "-f", "lavfi", "-i", "testsrc", "-f", "rawvideo", "pipe:1"]
    seen: list[int] = []

    class Stop(Exception):
        pass

    def consumer(chunk: bytes) -> None:
        seen.append(len(chunk))
        raise Stop

    with pytest.raises(Stop):
        run(cmd, timeout=60, on_stdout=consumer)
    # then the only ffmpeg child of this process is gone
    me = os.getpid()
    assert seen and not [p for p in child_pids(me) if proc_alive(p)]


def test_missing_binary_is_the_layer_error(tmp_path):
    with pytest.raises(ProcessError) as info:
        run([str(tmp_path / "no-such-ffmpeg"), "-version"], timeout=5)
    assert info.value.returncode is None and "cannot execute" in str(info.value)


def test_child_dies_with_its_parent():
    # given a parent process that starts a long child through the layer
    code = (
        "import sys; from fala_clip.media.procs import spawn\n"
        "c = spawn(['sleep', '300'], timeout=None, stdout=False)\n"
        "print(c.pid, flush=True); c.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert proc_alive(child)
        # when the parent is killed
        parent.kill()
        parent.wait()
        # then the child goes too
        assert wait_until(lambda: not proc_alive(child), timeout=20, interval=0.01), f"child {child} not gone"
    finally:
        parent.kill()
        parent.wait()


def test_binaries_come_from_the_one_setting_with_ffprobe_beside_it(settings, tmp_path):
    # given FFMPEG_BIN naming an ffmpeg in a directory that also holds an ffprobe
    import shutil

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ffmpeg").symlink_to(shutil.which("ffmpeg"))
    (bindir / "ffprobe").symlink_to(shutil.which("ffprobe"))
    settings.FFMPEG_BIN = str(bindir / "ffmpeg")
    # then the layer resolves both from there, and runs that ffmpeg
    assert ffmpeg_bin() == str(bindir / "ffmpeg") and ffprobe_bin() == str(bindir / "ffprobe")
    assert run_ffmpeg("-f", "lavfi", "-i", "sine=duration=0.1", "-f", "null", "-", timeout=30).cmd[0] == str(
        bindir / "ffmpeg"
    )
    # given an FFMPEG_BIN without an ffprobe beside it: ffprobe from PATH
    (bindir / "ffprobe").unlink()
    assert ffprobe_bin() == shutil.which("ffprobe")
    # given no setting: both from PATH
    settings.FFMPEG_BIN = ""
    assert ffmpeg_bin() == shutil.which("ffmpeg")
