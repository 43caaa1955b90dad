"""The single decode pass: small frames streamed, RGB samples, 16 kHz audio."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fala_clip.media.ffmpeg import FFmpegError
from tests.procwatch import child_pids, proc_alive, proc_argv
from video.analysis.decode import VideoInfo, decode_audio, decode_video, read_small_frames, small_dims, video_info
from video.analysis.framestats import FrameStatsAccumulator, frame_stats_from_arrays

from .conftest import FPS


def test_small_dims_keep_aspect_and_are_even():
    assert small_dims(1920, 1080, 160) == (160, 90)
    assert small_dims(1080, 1920, 160) == (90, 160)
    assert small_dims(320, 240, 160) == (160, 120)
    w, h = small_dims(1000, 333, 160)
    assert w % 2 == 0 and h % 2 == 0


def test_one_pass_gives_every_small_frame_samples_and_audio(flash_video):
    chunks = []
    res = decode_video(
        flash_video, consumer=lambda y, u, v: chunks.append((y.shape, u.shape, v.shape)), chunk_frames=32
    )
    assert res.n_frames == 4 * FPS
    assert res.small_size == (160, 90)
    assert [c[0][0] for c in chunks] == [32, 32, 32, 4]
    assert chunks[0] == ((32, 90, 160), (32, 45, 80), (32, 45, 80))
    # ~2 fps RGB samples (every 12th frame at 25 fps), 224 px long side
    assert res.samples.shape == (9, 126, 224, 3)
    assert res.sample_times == pytest.approx([k * 12 / 25 for k in range(9)])
    assert res.sample_fps == pytest.approx(25 / 12)
    assert res.audio is not None and res.audio_rate == 16000
    assert abs(res.audio.size - 4 * 16000) < 1600
    beep = res.audio[int(2.02 * 16000) : int(2.08 * 16000)]
    assert np.abs(beep).max() > 0.5 and np.abs(res.audio[:16000]).max() < 0.01


def test_samples_are_exact_frames(flash_video):
    # every 2nd frame: the 2-frame flash starting at frame 50 (2.0 s) is in sample 25, not before
    res = decode_video(flash_video, sample_fps=12.5, with_audio=False)
    assert res.sample_times[25] == pytest.approx(2.0)
    assert res.samples[25].mean() > 200 > res.samples[24].mean()


def test_video_without_audio_has_audio_none(cuts_video):
    info = video_info(cuts_video)
    assert not info.has_audio
    res = decode_video(cuts_video, info=info, sample_fps=0)
    assert res.audio is None and res.samples.shape[0] == 0 and res.n_frames == 120


def test_rotated_video_is_analysed_upright(cuts_video, tmp_path):
    import subprocess

    rot = tmp_path / "rot.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(cuts_video),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
            str(rot),
        ],
        check=True,
        timeout=60,
    )
    info = video_info(rot)
    assert (info.width, info.height, info.rotation % 180) == (240, 320, 90)
    res = decode_video(rot, info=info, with_audio=False)
    assert res.small_size == (120, 160) and res.samples.shape[1:] == (224, 168, 3)
    assert res.n_frames == 120


def test_frame_stats_do_not_depend_on_chunking(cuts_video):
    y, u, v, fps = read_small_frames(cuts_video)
    a = frame_stats_from_arrays(y, u, v, fps, chunk=7)
    b = frame_stats_from_arrays(y, u, v, fps, chunk=256)
    for name in ("diff_y", "diff_u", "diff_v", "luma", "hist", "thumb"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-4)
    # and streaming through the decoder gives the same numbers
    acc = FrameStatsAccumulator(fps)
    decode_video(cuts_video, consumer=acc, sample_fps=0, chunk_frames=50)
    c = acc.result()
    np.testing.assert_allclose(c.diff_y, a.diff_y, rtol=1e-5, atol=1e-4)
    assert c.hist.shape == (120, 32)
    np.testing.assert_allclose(c.hist[:, :16].sum(axis=1), 1.0, atol=1e-5)


def test_decode_audio_is_16k_mono(flash_video):
    a = decode_audio(flash_video)
    assert a.dtype == np.float32 and abs(a.size - 64000) < 1600


def test_corrupt_input_raises_with_stderr(tmp_path, cuts_video):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(cuts_video.read_bytes()[:2000])
    info = VideoInfo(
        duration=4.8,
        fps=25.0,
        width=320,
        height=240,
        video_codec="h264",
        audio_codec=None,
        has_audio=False,
        nb_frames=120,
    )
    with pytest.raises(FFmpegError) as e:
        decode_video(bad, info=info, sample_fps=0)
    assert e.value.stderr_tail


def _ffmpeg_children() -> list[int]:
    """Pids of this process's running ffmpeg children."""
    return [
        pid for pid in child_pids(os.getpid()) if proc_alive(pid) and Path((proc_argv(pid) or [""])[0]).name == "ffmpeg"
    ]


def test_on_started_runs_once_while_ffmpeg_runs_before_any_frame(flash_video):
    consumed: list[int] = []
    seen: list[tuple[list[int], int]] = []
    res = decode_video(
        flash_video,
        consumer=lambda y, u, v: consumed.append(len(y)),
        sample_fps=0,
        on_started=lambda: seen.append((_ffmpeg_children(), len(consumed))),
    )
    assert len(seen) == 1
    children, frames_before = seen[0]
    assert len(children) == 1 and frames_before == 0
    assert res.n_frames == sum(consumed) > 0
    assert _ffmpeg_children() == []


def test_a_failing_on_started_stops_ffmpeg_and_propagates(flash_video):
    def boom() -> None:
        raise RuntimeError("warm-up failed")

    with pytest.raises(RuntimeError, match="warm-up failed"):
        decode_video(flash_video, sample_fps=0, on_started=boom)
    assert _ffmpeg_children() == []
