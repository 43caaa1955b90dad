"""Shared ffmpeg helpers: flags, timeouts, errors carrying stderr."""

from __future__ import annotations

import pytest

from fala_clip.media.ffmpeg import FFmpegError, FFmpegTimeout, ffmpeg_cmd, ffmpeg_version, run_ffmpeg, run_tool


def test_cmd_has_safety_flags():
    cmd = ffmpeg_cmd("-i", "x.mp4", "out.mp4")
    assert cmd[1:4] == ["-nostdin", "-hide_banner", "-loglevel"]
    assert "-y" in cmd


def test_failure_carries_stderr_tail(tmp_path):
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg("-i", str(tmp_path / "missing.mp4"), "-f", "null", "-", timeout=30)
    assert info.value.returncode not in (0, None)
    assert "missing.mp4" in info.value.stderr_tail
    assert "No such file" in str(info.value)


def test_success_writes_output(tmp_path):
    out = tmp_path / "a.wav"
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=0.2", str(out), timeout=30)
    assert out.stat().st_size > 0


def test_timeout_kills_the_process():
    with pytest.raises(FFmpegTimeout):
        run_tool(["sleep", "5"], timeout=0.3)


def test_version_is_known():
    assert ffmpeg_version()[:1].isdigit()
