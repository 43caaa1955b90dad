"""Fixtures for the music analysers: generated audio and a shared whisper cache.

Generated audio comes from :mod:`synth` (numpy, seeded) and is written to
``tmp_path`` with soundfile when a test needs a file; mixes with real speech
use ffmpeg. Real recordings come from the project-wide ``shared_media``
fixture (skips when ``../shared/media`` is absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.media_factory import ffmpeg as media_ffmpeg

from . import synth


@pytest.fixture(scope="session")
def whisper_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the joined whisper base model lives for this test session.

    ``MODEL_CACHE_DIR`` in the environment (a persistent cache) wins, so
    repeated runs join the 145 MB model only once; otherwise a session temp dir.
    """
    env = os.environ.get("MODEL_CACHE_DIR")
    return Path(env) if env else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def whisper_base(whisper_cache: Path, monkeypatch_session: pytest.MonkeyPatch) -> str:
    """Join + load whisper base once per session; returns the model setting.

    The transcriber takes its cache directory as a parameter; tests that call
    it without one get this session's cache as the default.
    """
    from music.analysis import transcribe

    monkeypatch_session.setattr(transcribe, "default_cache_dir", lambda: whisper_cache)
    transcribe.ensure_whisper_base(whisper_cache)
    transcribe.load_model("base", cache_dir=whisper_cache)
    return "base"


@pytest.fixture(scope="session")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture
def write_wav(tmp_path: Path):
    """Write a float32 array as a 16-bit WAV under tmp_path; returns the path."""

    def _write(y: np.ndarray, name: str = "audio.wav", sr: int = synth.SR) -> Path:
        p = tmp_path / name
        synth.write_wav(p, y, sr)
        return p

    return _write


@pytest.fixture
def ffmpeg(tmp_path: Path):
    """Run ffmpeg with the given arguments (inputs/outputs relative to tmp_path)."""

    def _run(*args: str) -> None:
        media_ffmpeg(*args, cwd=tmp_path)

    return _run
