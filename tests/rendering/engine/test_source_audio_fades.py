"""The source's own sound fades in at the clip's start, out at its end, and is de-clicked at each cut."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from rendering.engine import render_variant
from rendering.engine.errors import RenderError
from rendering.engine.settings import resolve_settings
from tests import media_factory as mf

SR = 48000


def _pcm(path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(SR), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_source_audio_ramps_at_the_ends_and_dips_at_the_cut(tmp_path):
    src = mf.testsrc_video(tmp_path / "tone.mp4", size="320x180", duration=6, tone=440, tone_sr=48000)
    clip = {
        "template": "highlight",
        "edl": [
            {"src_in": 0.5, "src_out": 2.5, "position": 0.0, "duration": 2.0},
            {"src_in": 3.0, "src_out": 5.0, "position": 2.0, "duration": 2.0},
        ],
    }
    meta = {"fps": 25, "width": 320, "height": 180, "has_audio": True, "duration": 6.0}
    out = tmp_path / "o.mp4"
    render_variant(
        str(src),
        clip,
        str(out),
        meta=meta,
        settings={"width": 180, "height": 320, "preset": "ultrafast", "loudnorm": False, "verify": False},
    )
    pcm = _pcm(out)
    steady = _rms(pcm[int(0.5 * SR) : int(1.5 * SR)])
    assert steady > 0.05
    # AAC's priming/decoder delay shifts the ramp by a few ms: compare 10-ms windows
    first = _rms(pcm[: int(0.010 * SR)])
    assert first < 0.5 * steady, (first, steady)
    end = len(pcm)
    last = _rms(pcm[end - int(0.030 * SR) : end - int(0.010 * SR)])
    assert last < 0.6 * steady, (last, steady)
    # the cut at 2.0 s: the 24-ms window around it is quieter than the steady tone
    cut = _rms(pcm[int((2.0 - 0.006) * SR) : int((2.0 + 0.006) * SR)])
    assert cut < 0.85 * steady, (cut, steady)


@pytest.mark.parametrize("value", [-0.1, float("nan"), "x", 11])
def test_fade_settings_are_validated(value):
    with pytest.raises(RenderError) as exc:
        resolve_settings({"source_fade_in": value})
    assert exc.value.code == "invalid_settings"
