"""Failure modes, verification of bad files, and the less common render paths
(silent source, letterbox, face crop in pixels).  Small outputs, ultrafast."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from render_media import MONTAGE, SOURCE_META, decode_audio, make_clip, run

from rendering.engine import RenderError, measure_loudness, render_variant, verify_output

SMALL = {"preset": "ultrafast", "width": 180, "height": 320}


def _ff(*args: str) -> None:
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args])


def _rgb_frame(path, t: float, w: int, h: int) -> np.ndarray:
    proc = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            str(t),
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(h, w, 3).astype(float)


# --------------------------------------------------------------------------- failures


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(RenderError) as err:
        render_variant(str(tmp_path / "nope.mp4"), make_clip([(0, 1)]), str(tmp_path / "o.mp4"), meta=SOURCE_META)
    assert err.value.code == "missing_input"


def test_corrupt_source_fails_with_stderr_and_leaves_nothing(tmp_path):
    src = tmp_path / "bad.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    out = tmp_path / "o.mp4"
    with pytest.raises(RenderError) as err:
        render_variant(
            str(src), make_clip([(0, 1)]), str(out), meta=SOURCE_META, settings=dict(SMALL, loudnorm_passes=1)
        )
    assert err.value.code == "ffmpeg_failed"
    assert err.value.stderr_tail
    assert sorted(os.listdir(tmp_path)) == ["bad.mp4"]


def test_timeout_kills_ffmpeg_and_leaves_nothing(flash_source, tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(RenderError) as err:
        render_variant(
            str(flash_source),
            make_clip(MONTAGE),
            str(out),
            meta=SOURCE_META,
            settings={"preset": "ultrafast", "loudnorm_passes": 1},
            timeout=0.3,
        )
    assert err.value.code == "timeout"
    assert os.listdir(tmp_path) == []


def test_invalid_edl_is_rejected_before_ffmpeg_runs(flash_source, tmp_path):
    with pytest.raises(RenderError) as err:
        render_variant(
            str(flash_source), {"edl": [{"src_in": 2, "src_out": 1}]}, str(tmp_path / "o.mp4"), meta=SOURCE_META
        )
    assert err.value.code == "invalid_edl"
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- verify on bad files


def test_verify_flags_an_audio_offset_as_sync_failed(tmp_path):
    # Given a file whose audio starts 200 ms after its video
    bad = tmp_path / "late_audio.mp4"
    _ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=180x320:rate=30:duration=2",
        "-itsoffset",
        "0.2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=1000:r=48000:duration=2",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        str(bad),
    )
    # When verified
    report = verify_output(str(bad), expected_duration=2.0, fps=30, width=180, height=320)
    # Then the offset is measured and the sync check fails
    assert report["sync_failed"] and not report["ok"]
    assert report["av_offset_s"] == pytest.approx(0.2, abs=0.025)  # minus AAC priming
    assert not report["checks"]["av_start_offset"]["ok"]
    with pytest.raises(RenderError) as err:
        verify_output(str(bad), expected_duration=2.0, fps=30, width=180, height=320, raise_on_fail=True)
    assert err.value.code == "sync_failed"


def test_verify_flags_missing_faststart_and_wrong_size(tmp_path):
    plain = tmp_path / "plain.mp4"
    _ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=30:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000:duration=1",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(plain),
    )
    report = verify_output(str(plain), expected_duration=1.0, fps=30, width=180, height=320)
    assert not report["checks"]["faststart"]["ok"]
    assert not report["checks"]["size"]["ok"]
    assert not report["sync_failed"]
    with pytest.raises(RenderError) as err:
        verify_output(str(plain), expected_duration=1.0, fps=30, width=180, height=320, raise_on_fail=True)
    assert err.value.code == "verify_failed"


def test_verify_measures_the_loudness_beside_the_probe_and_skips_it_without_audio(tmp_path):
    tone = tmp_path / "tone.mp4"
    mute = tmp_path / "mute.mp4"
    video = ["-f", "lavfi", "-i", "testsrc=size=180x320:rate=30:duration=2"]
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    _ff(*video, "-f", "lavfi", "-i", "sine=f=440:r=48000:duration=2", "-ac", "2", *enc, "-c:a", "aac", str(tone))
    _ff(*video, *enc, str(mute))
    # with a track: the loudness measured beside the probe is the one measured alone
    report = verify_output(str(tone), expected_duration=2.0, fps=30, width=180, height=320, target_lufs=-14.0)
    assert report["loudness"] == measure_loudness(str(tone))
    assert "loudness" in report["checks"]
    # without one: its measurement fails, and that is no error -- there is nothing to measure
    report = verify_output(str(mute), expected_duration=2.0, fps=30, width=180, height=320, target_lufs=-14.0)
    assert report["loudness"] is None and "loudness" not in report["checks"]
    assert report["checks"]["frame_count"]["ok"]


def test_a_tracks_duration_is_probed_once_per_file_version(tmp_path, monkeypatch):
    from rendering.engine import run as run_mod

    track = tmp_path / "t.wav"
    _ff("-f", "lavfi", "-i", "sine=r=48000:duration=1.5", str(track))
    calls = []
    real = run_mod.ffprobe_json
    monkeypatch.setattr(run_mod, "ffprobe_json", lambda p, *a, **k: calls.append(p) or real(p, *a, **k))
    first = run_mod.probe_duration(str(track))
    assert first is not None and first["duration"] == pytest.approx(1.5, abs=0.01)
    assert run_mod.probe_duration(str(track)) == first and len(calls) == 1  # remembered
    # a new file under the same name is probed again
    _ff("-f", "lavfi", "-i", "sine=r=48000:duration=2.5", str(track))
    os.utime(track, ns=(1, 10**18))
    assert run_mod.probe_duration(str(track))["duration"] == pytest.approx(2.5, abs=0.01)
    assert len(calls) == 2
    # what cannot be probed is not remembered, nor an error
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio")
    assert run_mod.probe_duration(str(junk)) is None


# --------------------------------------------------------------------------- other paths


def test_silent_source_gets_a_silent_aac_track(tmp_path):
    src = tmp_path / "mute.mp4"
    _ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=30:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(src),
    )
    meta = {"fps": 30, "width": 320, "height": 180, "has_audio": False, "duration": 3.0}
    out = tmp_path / "o.mp4"
    result = render_variant(str(src), make_clip([(0.2, 1.0), (2.0, 2.9)]), str(out), meta=meta, settings=SMALL)
    assert result.verify and result.verify["ok"], result.verify
    assert result.verify["checks"]["audio_codec"]["value"] == "aac"
    assert abs(result.verify["audio_duration"] - 1.7) <= 1 / 30
    assert np.abs(decode_audio(out)).max() == 0.0
    assert measure_loudness(str(out)) <= -70.0  # ebur128 floor for digital silence


def _split_colour_source(path, seconds: float = 2.0):
    # left half red, right half blue, 640x360
    _ff(
        "-f",
        "lavfi",
        "-i",
        f"color=red:size=320x360:rate=30:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"color=blue:size=320x360:rate=30:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=f=300:r=48000:duration={seconds}",
        "-filter_complex",
        "[0][1]hstack[v]",
        "-map",
        "[v]",
        "-map",
        "2:a",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(path),
    )
    return path


def test_face_on_the_right_puts_the_right_of_the_frame_in_the_output(tmp_path):
    src = _split_colour_source(tmp_path / "split.mp4")
    meta = {"fps": 30, "width": 640, "height": 360, "has_audio": True, "duration": 2.0}
    faces = [{"time": t / 10, "boxes": [[0.8, 0.3, 0.1, 0.2, 0.9]]} for t in range(21)]
    out = tmp_path / "face.mp4"
    result = render_variant(
        str(src), make_clip([(0.0, 1.0), (1.0, 2.0)]), str(out), meta=meta, faces=faces, settings=SMALL
    )
    assert [s["crop_x"] for s in result.plan["segments"]] == [438, 438]
    rgb = _rgb_frame(out, 0.5, 180, 320)
    assert rgb[..., 2].mean() > 200 and rgb[..., 0].mean() < 40  # all blue: the right half
    # without faces the crop is centred: red on the left, blue on the right
    out2 = tmp_path / "centre.mp4"
    render_variant(str(src), make_clip([(0.0, 1.0)]), str(out2), meta=meta, settings=SMALL)
    rgb = _rgb_frame(out2, 0.5, 180, 320)
    assert rgb[:, :60, 0].mean() > 200 and rgb[:, -60:, 2].mean() > 200


@pytest.mark.parametrize("background", ["black", "blur"])
def test_letterbox_fits_the_whole_frame(tmp_path, background):
    src = _split_colour_source(tmp_path / "split.mp4", seconds=1.0)
    meta = {"fps": 30, "width": 640, "height": 360, "has_audio": True, "duration": 1.0}
    out = tmp_path / "lb.mp4"
    result = render_variant(
        str(src),
        make_clip([(0.0, 1.0)]),
        str(out),
        meta=meta,
        settings=dict(SMALL, mode="letterbox", letterbox_background=background),
    )
    assert result.verify and result.verify["ok"]
    rgb = _rgb_frame(out, 0.5, 180, 320)
    band = rgb[150:170]  # the fitted 16:9 picture is the middle ~101 rows
    assert band[:, :80, 0].mean() > 180 and band[:, -80:, 2].mean() > 180  # both halves visible
    top = rgb[:40]
    if background == "black":
        assert top.max() < 40
    else:
        assert top.mean() > 40  # blurred fill, not black


def test_cancel_from_the_progress_callback_kills_and_cleans_up(flash_source, tmp_path):
    class Cancelled(Exception):
        pass

    def on_progress(percent: float) -> None:
        if percent > 5.0:  # after the loudness pass, during the encode
            raise Cancelled

    with pytest.raises(Cancelled):
        render_variant(
            str(flash_source),
            make_clip(MONTAGE),
            str(tmp_path / "o.mp4"),
            meta=SOURCE_META,
            settings=SMALL,
            on_progress=on_progress,
        )
    assert os.listdir(tmp_path) == []


def test_music_that_ends_early_is_faded_and_padded(flash_source, music_file, tmp_path):
    # Given an 8 s music file used from 6 s for a 4 s clip
    clip = make_clip(MONTAGE, music_offset=6.0, music_duration=4.0)
    out = tmp_path / "o.mp4"
    result = render_variant(str(flash_source), clip, str(out), meta=SOURCE_META, music=str(music_file), settings=SMALL)
    # Then the plan says so, the clip keeps its length, and the tail is silent
    assert any("music ends" in n for n in result.plan["notes"])
    assert result.plan["music_length"] == pytest.approx(2.0, abs=0.05)
    assert result.verify and result.verify["ok"], result.verify["failed"]
    audio = decode_audio(out)
    assert np.abs(audio[: 48000 + 24000]).max() > 0.1
    assert np.abs(audio[int(2.1 * 48000) :]).max() < 1e-3


def test_tracked_crop_pans_from_left_to_right(tmp_path):
    src = _split_colour_source(tmp_path / "split.mp4", seconds=3.0)
    meta = {"fps": 30, "width": 640, "height": 360, "has_audio": True, "duration": 3.0}
    faces = [{"time": i * 0.1, "boxes": [[0.05 + 0.85 * i / 30, 0.3, 0.05, 0.2, 0.9]]} for i in range(31)]
    out = tmp_path / "pan.mp4"
    settings = dict(SMALL, crop_track_min_s=1.0, crop_track_step_s=0.5, crop_track_max_speed=1.0)
    result = render_variant(str(src), make_clip([(0.0, 3.0)]), str(out), meta=meta, faces=faces, settings=settings)
    assert result.plan["segments"][0]["crop_path"]
    start, end = _rgb_frame(out, 0.0, 180, 320), _rgb_frame(out, 2.9, 180, 320)
    assert start[..., 0].mean() > 200 and start[..., 2].mean() < 60  # all red: the left half
    assert end[..., 2].mean() > 200 and end[..., 0].mean() < 60  # all blue: the right half
