"""Small media for the gate tests, from the shared recipes in ``tests.media_factory``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import ffmpeg, sine_audio, testsrc_video

__all__ = ["ffmpeg", "gate_media"]  # ffmpeg: the runner these tests use for their own odd files


@pytest.fixture(scope="session")
def gate_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few tiny files: 2 s mp4 with audio, 2 s mp4 without, mp3, wav, 3 s wav."""
    d = tmp_path_factory.mktemp("gate_media")
    return {
        "mp4": testsrc_video(d / "clip.mp4", duration=2, tone=440),
        "mp4_noaudio": testsrc_video(d / "silent.mp4", duration=2),
        "mp3": sine_audio(d / "tone.mp3", sample_rate=22050, duration=3, codec=["-c:a", "libmp3lame", "-b:a", "64k"]),
        "wav": sine_audio(d / "tone.wav", sample_rate=16000, duration=3),
        "ts": testsrc_video(d / "seg0.ts", duration=1, container="mpegts"),
    }
