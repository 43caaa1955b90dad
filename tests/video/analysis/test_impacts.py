"""Impacts: a flash and a beep at the same instant become one audiovisual impact."""

from __future__ import annotations

import numpy as np
import pytest

from video.analysis.audio import detect_onsets, energy_per_second
from video.analysis.decode import decode_video, video_info
from video.analysis.framestats import FrameStatsAccumulator
from video.analysis.impacts import combine_impacts, detect_impacts, visual_impacts
from video.analysis.motion import motion_per_frame

from .conftest import FLASH_AT


@pytest.fixture(scope="module")
def flash_analysis(flash_video):
    info = video_info(flash_video)
    acc = FrameStatsAccumulator(info.fps)
    dec = decode_video(flash_video, info=info, consumer=acc, sample_fps=0)
    fs = acc.result()
    return fs, dec.audio, dec.audio_rate


def test_flash_and_beep_give_one_audiovisual_impact_on_time(flash_analysis):
    fs, audio, sr = flash_analysis
    onsets = detect_onsets(audio, sr)
    impacts = detect_impacts(fs, motion_per_frame(fs), onsets, audio, sr)
    assert len(impacts) == 1
    (imp,) = impacts
    assert imp["kind"] == "audiovisual"
    assert abs(imp["time"] - FLASH_AT) <= 0.1
    assert imp["strength"] > 0.8


def test_audio_onset_of_the_beep_is_within_20_ms(flash_analysis):
    _, audio, sr = flash_analysis
    onsets = detect_onsets(audio, sr)
    assert min(abs(o["time"] - FLASH_AT) for o in onsets) <= 0.02
    assert max(o["strength"] for o in onsets) == 1.0


def test_visual_impact_alone_without_audio(flash_analysis):
    fs, _, sr = flash_analysis
    vis = visual_impacts(fs, motion_per_frame(fs))
    assert [abs(v["time"] - FLASH_AT) <= 0.1 for v in vis] == [True]
    assert detect_impacts(fs, motion_per_frame(fs), [], None, sr)[0]["kind"] == "visual"


def test_click_track_onsets_at_known_times():
    sr = 16000
    audio = np.zeros(sr * 3, np.float32)
    times = [0.25, 0.8, 1.5, 2.2, 2.7]
    rng = np.random.default_rng(0)
    for t in times:
        i = int(t * sr)
        audio[i : i + 400] = rng.uniform(-0.7, 0.7, 400) * np.exp(-np.arange(400) / 80)
    found = [o["time"] for o in detect_onsets(audio, sr)]
    assert len(found) == len(times)
    assert np.max(np.abs(np.array(found) - times)) <= 0.02


def test_no_audio_gives_no_onsets_and_zero_energy():
    assert detect_onsets(None, 16000) == []
    assert energy_per_second(None, 16000, 3) == [0.0, 0.0, 0.0]
    loud = np.full(16000 * 2, 0.5, np.float32)
    assert energy_per_second(loud, 16000, 2)[0] == pytest.approx(1 + 20 * np.log10(0.5) / 60, abs=1e-3)


def test_combine_pairs_within_tolerance_only():
    vis = [{"time": 1.0, "frame": 25, "strength": 0.6}, {"time": 3.0, "frame": 75, "strength": 0.5}]
    aud = [{"time": 1.05, "strength": 0.7}, {"time": 2.0, "strength": 0.4}]
    out = combine_impacts(vis, aud)
    assert [(o["time"], o["kind"]) for o in out] == [(1.05, "audiovisual"), (2.0, "audio"), (3.0, "visual")]
    assert out[0]["strength"] == pytest.approx(1.0)
