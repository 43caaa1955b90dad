"""Fixtures for the rendering-engine tests: short synthetic sources generated
once per session (a few seconds, 640x360)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# This folder has no __init__.py on purpose: a package named "engine" would
# clash with other apps' tests/<app>/engine folders under pytest's default
# import mode.  Helpers live in the uniquely named render_media module; make
# it importable under --import-mode=importlib too.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from render_media import FLASHES, FPS, make_flash_source, make_music  # noqa: E402


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render-media")


@pytest.fixture(scope="session")
def flash_source(media_dir) -> Path:
    return make_flash_source(media_dir / "flash_src.mp4", duration=10.0, fps=FPS, flashes=FLASHES)


@pytest.fixture(scope="session")
def music_file(media_dir) -> Path:
    return make_music(media_dir / "music.m4a", duration=8.0, freq=440.0)
