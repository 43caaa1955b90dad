"""``manage.py clip`` says what it is doing from its first second (the progress line)."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import CommandError, call_command

from fala_clip.management.commands.clip import _ProgressBar
from tests.procwatch import wait_until


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_first_line_says_what_it_does_before_the_checks_and_the_input_checks(tmp_path):
    err = io.StringIO()
    with pytest.raises(CommandError, match="no such file"):
        call_command("clip", str(tmp_path / "missing.mp4"), out=str(tmp_path / "out"), stderr=err)
    assert err.getvalue().splitlines()[0].startswith(f"clipping {tmp_path / 'missing.mp4'}")


def test_off_a_terminal_each_change_is_one_line_and_nothing_ticks():
    stream = io.StringIO()
    bar = _ProgressBar(stream, "generating the sample video")
    bar.show("generating the sample track", 0.5)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].endswith("generating the sample video".ljust(70))
    assert lines[1].startswith("[" + "#" * 15 + " " * 15 + "]")
    assert all(t.name != "clip-progress" for t in threading.enumerate())


def test_on_a_terminal_the_line_is_redrawn_in_place_and_its_clock_ticks():
    stream = _Tty()
    bar = _ProgressBar(stream, "analyzing_rhythm", tick_s=0.05)
    try:
        wait_until(lambda: stream.getvalue().count("\r") >= 3, timeout=10)
    finally:
        bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) >= 3 and "\n" not in stream.getvalue()
    assert all(f.rstrip().endswith("analyzing_rhythm") for f in frames)
    assert len({f.split("]")[1].split("s")[0] for f in frames}) >= 2  # the elapsed seconds moved
    assert all(t.name != "clip-progress" for t in threading.enumerate())
