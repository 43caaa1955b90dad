"""End-to-end renders of a flash/beep source: A/V sync measured in the output.

Given a source whose white flashes and 1 kHz beeps start at the same known
instants, a multi-cut montage is rendered at 1080x1920 (ultrafast) and the
output is decoded: every flash must sit at the EDL-predicted output time and
its beep must start within one frame of it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from render_media import (
    FLASHES,
    FPS,
    MONTAGE,
    SOURCE_META,
    band_envelope,
    decode_audio,
    flash_times,
    make_clip,
    make_flash_source,
    tone_onsets,
)

from rendering.engine import measure_loudness, render_variant, top_level_atoms, verify_output

FRAME = 1.0 / FPS
FAST = {"preset": "ultrafast"}


def predicted_flashes(plan: dict, flashes: list[float]) -> list[float]:
    """Output times of the source flashes that survive the cut, from the quantised plan."""
    out = []
    for seg in plan["segments"]:
        for t in flashes:
            if seg["src_in"] <= t < seg["src_out"]:
                out.append(seg["position"] + (t - seg["src_in"]))
    return sorted(out)


@pytest.fixture(scope="module")
def montage(flash_source, tmp_path_factory):
    out = tmp_path_factory.mktemp("montage") / "montage.mp4"
    percents: list[float] = []
    result = render_variant(
        str(flash_source), make_clip(MONTAGE), str(out), meta=SOURCE_META, settings=FAST, on_progress=percents.append
    )
    return result, percents


@pytest.fixture(scope="module")
def with_music(flash_source, music_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("music") / "music.mp4"
    clip = make_clip(MONTAGE, music_offset=1.5, music_duration=sum(b - a for a, b in MONTAGE))
    percents: list[float] = []
    result = render_variant(
        str(flash_source),
        clip,
        str(out),
        meta=SOURCE_META,
        music=str(music_file),
        settings=FAST,
        on_progress=percents.append,
    )
    return result, percents


def test_every_flash_lines_up_with_its_beep(montage, record_property):
    result, _ = montage
    expected = predicted_flashes(result.plan, FLASHES)
    flashes = flash_times(result.path, FPS)
    beeps = tone_onsets(result.path, freq=1000.0)
    # Then the five flashes inside the cuts survive (5.5 s is cut out), at the EDL-predicted times
    assert len(expected) == 5
    assert len(flashes) == len(expected), (flashes, expected)
    assert len(beeps) == len(expected), (beeps, expected)
    for f, e in zip(flashes, expected, strict=True):
        assert abs(f - e) <= FRAME / 2 + 1e-6, (f, e)  # nearest output frame
    errors_ms = [round(float(b - f) * 1000, 2) for f, b in zip(flashes, beeps, strict=True)]
    record_property("sync_error_ms", json.dumps(errors_ms))
    print("flash->beep error (ms):", errors_ms)
    # And each beep starts within one frame of its flash -- in fact within the
    # detector's precision, since cuts snap to source frames (3.71 s -> 3.7 s)
    assert all(abs(e) <= FRAME * 1000 for e in errors_ms), errors_ms
    assert all(abs(e) <= 2.0 for e in errors_ms), errors_ms
    # And the audio is exactly where the EDL says (sample-accurate cuts)
    for b, e in zip(beeps, expected, strict=True):
        assert abs(b - e) <= 0.002, (b, e)


def test_output_meets_the_delivery_spec(montage, record_property):
    result, _ = montage
    plan = result.plan
    assert plan["total_frames"] == round(sum(b - a for a, b in MONTAGE) * FPS)
    report = verify_output(
        result.path, expected_duration=result.duration, fps=FPS, width=1080, height=1920, target_lufs=-14.0
    )
    assert report["ok"], report["failed"]
    assert not report["sync_failed"]
    assert report["checks"]["video_codec"]["value"] == "h264"
    assert report["checks"]["audio_codec"]["value"] == "aac"
    assert abs(report["duration"] - result.duration) <= FRAME
    assert report["frames"] == plan["total_frames"]
    assert abs(report["av_offset_s"]) <= FRAME
    names = [a[0] for a in top_level_atoms(result.path)]
    assert names.index("moov") < names.index("mdat")
    loudness = measure_loudness(result.path)
    record_property("loudness_lufs", loudness)
    assert abs(loudness - (-14.0)) <= 1.5
    assert (result.width, result.height) == (1080, 1920)
    assert result.size > 0 and result.verify and result.verify["ok"]


def test_progress_rises_monotonically_to_100(montage, with_music):
    for _result, percents in (montage, with_music):
        assert percents, "no progress reported"
        assert percents == sorted(percents)
        assert percents[-1] == 100.0 and percents.count(100.0) == 1
        assert all(0.0 <= p <= 100.0 for p in percents)


def test_log_has_a_line_per_step(montage):
    result, _ = montage
    steps = [line.split("] ", 1)[1].split(":", 1)[0] for line in result.log]
    for step in ("plan", "loudness", "encode", "verify", "done"):
        assert step in steps, steps
    assert set(result.timings) >= {"plan", "loudness", "encode", "verify", "total"}
    assert result.command[0].endswith("ffmpeg") and "-progress" in result.command


def test_music_replaces_the_beeps_and_flashes_stay_on_the_edl(with_music):
    result, _ = with_music
    expected = predicted_flashes(result.plan, FLASHES)
    # duration is the EDL total
    report = result.verify
    assert report is not None and report["ok"], report
    assert abs(report["duration"] - sum(b - a for a, b in MONTAGE)) <= FRAME
    # flashes where the EDL puts them
    flashes = flash_times(result.path, FPS)
    assert len(flashes) == len(expected)
    assert all(abs(f - e) <= FRAME / 2 + 1e-6 for f, e in zip(flashes, expected, strict=True))
    # music present, beeps gone
    audio = decode_audio(result.path)
    music = band_envelope(audio, 48000, 440.0, window_s=0.02)
    beep = band_envelope(audio, 48000, 1000.0, window_s=0.02)
    mid = slice(int(0.5 * 48000), int(3.0 * 48000))
    assert np.median(music[mid]) > 0.1
    assert beep.max() < 0.1 * np.median(music[mid])
    # short fades: quiet at both ends, full in the middle
    assert music[: int(0.02 * 48000)].mean() < 0.3 * np.median(music[mid])
    assert music[-int(0.03 * 48000) :].mean() < 0.3 * np.median(music[mid])
    assert abs(measure_loudness(result.path) - (-14.0)) <= 1.5


def test_other_source_rate_and_single_pass_loudnorm(tmp_path):
    # Given a 25 fps source (flashes on its own frame grid) rendered to 30 fps
    flashes = [0.6, 1.8, 3.2]
    src = make_flash_source(tmp_path / "src25.mp4", duration=4.0, fps=25, size="320x240", flashes=flashes, gop=25)
    meta = {"fps": 25, "width": 320, "height": 240, "has_audio": True, "duration": 4.0}
    clip = make_clip([(0.2, 1.0), (2.9, 3.6), (1.5, 2.2)])
    out = tmp_path / "out.mp4"
    result = render_variant(
        str(src),
        clip,
        str(out),
        meta=meta,
        settings={"preset": "ultrafast", "width": 270, "height": 480, "loudnorm_passes": 1},
    )
    # Then every flash is followed by its beep within one output frame
    found = flash_times(out, FPS)
    # a 40 ms flash can cover two 33 ms output frames: keep the first of each run
    firsts = [t for i, t in enumerate(found) if i == 0 or t - found[i - 1] > 1.5 * FRAME]
    beeps = tone_onsets(out, freq=1000.0)
    expected = predicted_flashes(result.plan, flashes)
    assert len(firsts) == len(beeps) == len(expected) == 3
    assert all(abs(f - b) <= FRAME for f, b in zip(firsts, beeps, strict=True)), (firsts, beeps)
    assert all(abs(b - e) <= 0.002 for b, e in zip(beeps, expected, strict=True))
    # single-pass dynamic loudnorm still lands near the target
    assert math.isfinite(result.verify["loudness"]) and abs(result.verify["loudness"] + 14.0) <= 1.5
