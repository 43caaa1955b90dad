"""Fixtures for the rendering-engine tests: short synthetic sources generated
once per session (a few seconds, 640x360) and small helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .mediatools import make_flash_source, make_music

if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:  # pragma: no cover
    pytest.skip("ffmpeg/ffprobe not installed", allow_module_level=True)

FPS = 30
# Flash + beep instants in the source (on the 30 fps frame grid).
FLASHES = [1.0, 2.5, 4.0, 5.5, 7.0, 8.5]
SOURCE_META = {"fps": FPS, "width": 640, "height": 360, "has_audio": True, "duration": 10.0}

# Montage: five cuts, out of source order, one starting off the frame grid
# (3.71 s), each containing exactly one flash well inside it; the flash at
# 5.5 s is cut out.
MONTAGE = [(0.5, 1.6), (3.71, 4.5), (6.8, 7.4), (2.3, 3.0), (8.2, 9.0)]


def make_clip(cuts, *, music_offset=None, music_duration=None, template="montage") -> dict:
    edl, pos = [], 0.0
    for src_in, src_out in cuts:
        edl.append(
            {"src_in": src_in, "src_out": src_out, "position": round(pos, 6), "duration": round(src_out - src_in, 6)}
        )
        pos += src_out - src_in
    return {"template": template, "edl": edl, "music_offset": music_offset, "music_duration": music_duration}


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render-media")


@pytest.fixture(scope="session")
def flash_source(media_dir) -> Path:
    return make_flash_source(media_dir / "flash_src.mp4", duration=10.0, fps=FPS, flashes=FLASHES)


@pytest.fixture(scope="session")
def music_file(media_dir) -> Path:
    return make_music(media_dir / "music.m4a", duration=8.0, freq=440.0)
