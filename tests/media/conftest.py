"""Small media generated with ffmpeg's lavfi sources for the gate tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def gate_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few tiny files: 2 s mp4 with audio, 2 s mp4 without, mp3, wav, 3 s wav."""
    d = tmp_path_factory.mktemp("gate_media")
    out = {
        "mp4": d / "clip.mp4",
        "mp4_noaudio": d / "silent.mp4",
        "mp3": d / "tone.mp3",
        "wav": d / "tone.wav",
        "ts": d / "seg0.ts",
    }
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=22050:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(out["mp4"]),
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(out["mp4_noaudio"]),
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=22050:duration=3",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "64k",
        str(out["mp3"]),
    )
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=3", str(out["wav"]))
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mpegts",
        str(out["ts"]),
    )
    return out
