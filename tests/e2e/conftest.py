from __future__ import annotations

from pathlib import Path

import pytest

from fala_clip.media.samples import sample_track, sample_video


@pytest.fixture(scope="session")
def small_media(tmp_path_factory) -> dict[str, Path]:
    """A 30 s 320x240 source (hard cuts, flashes + beeps) and a 30 s 120 BPM track."""
    d = tmp_path_factory.mktemp("e2e-media")
    return {
        "video": sample_video(d / "source.mp4", duration=30.0, width=320, height=240),
        "music": sample_track(d / "track.wav", duration=30.0),
    }


@pytest.fixture
def e2e(settings, isolated_media, worker_env, start_worker):
    """Settings shared by the test process and its real workers."""
    settings.RENDER_PRESET = "ultrafast"
    extra = {**isolated_media, "RENDER_PRESET": "ultrafast"}

    def worker(burst: bool = True, **env):
        return start_worker("heavy", burst=burst, extra_env={**extra, **env})

    return worker
