"""Spoken words at known instants, from Debian's ``espeak-ng`` (captions and transcript tests).

Each word is synthesised on its own, its leading and trailing silence trimmed
(ffmpeg ``silenceremove``), and mixed into a silent 16-kHz track so that it
starts exactly at the time asked: the ground truth for word timestamps.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.media_factory import X264, ffmpeg, lavfi

SR = 16000


def need_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no speech to test with")
    return exe


def spoken_track(
    words: Sequence[tuple[str, float]], duration: float, work: Path, *, voice: str = "en"
) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """``(16-kHz float32 mono track, [(word, start, end)])`` with each word starting at its time."""
    exe = need_espeak()
    work.mkdir(parents=True, exist_ok=True)
    y = np.zeros(int(round(duration * SR)), np.float32)
    placed = []
    for i, (word, at) in enumerate(words):
        raw, trimmed = work / f"w{i}.wav", work / f"w{i}.f32"
        subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(raw), word], check=True, capture_output=True)
        ffmpeg(
            "-i",
            str(raw),
            "-af",
            "silenceremove=start_periods=1:start_threshold=-45dB,areverse,"
            "silenceremove=start_periods=1:start_threshold=-45dB,areverse",
            "-ar",
            str(SR),
            "-ac",
            "1",
            "-f",
            "f32le",
            str(trimmed),
        )
        a = np.fromfile(trimmed, np.float32)
        i0 = int(round(at * SR))
        y[i0 : i0 + a.size] += a[: y.size - i0]
        placed.append((word, at, at + a.size / SR))
    return y, placed


def spoken_video(
    out: Path,
    words: Sequence[tuple[str, float]],
    duration: float,
    *,
    size: str = "320x180",
    rate: int = 25,
    voice: str = "en",
    source: str | None = None,
) -> list[tuple[str, float, float]]:
    """A dark test picture (or ``source``, a lavfi video) with the words spoken at their times (AAC)."""
    y, placed = spoken_track(words, duration, out.parent / (out.stem + "-words"), voice=voice)
    pcm = out.with_suffix(".f32")
    y.tofile(pcm)
    video = source or f"testsrc2=s={size}:r={rate}:d={duration},eq=brightness=-0.3"
    ffmpeg(
        *lavfi(video),
        "-f",
        "f32le",
        "-ar",
        str(SR),
        "-ac",
        "1",
        "-i",
        str(pcm),
        "-t",
        str(duration),
        *X264,
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-shortest",
        str(out),
    )
    return placed
