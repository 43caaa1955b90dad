"""TransNetV2 sees exactly the frames the analysis analyses, also on a variable-frame-rate source.

The source: four lavfi segments of 1.5 s at 8, 30, 12 and 24 fps, concatenated
with their own timestamps (``-fps_mode vfr``): 111 frames, hard cuts at 1.5,
3.0 and 4.5 s. The analysis decodes it through an ``fps`` filter at the probed
average rate (~18.6 fps); a decode without that filter gives the source's own
111 frames — the same *count* here, but frame 12 is the first frame of the
second segment there and ~0.65 s in on the analysis' clock — and ffmpeg's
default frame-rate mode for raw output re-times it to its 120 fps ``r_frame_rate``
instead (719 frames), which the old worker then silently truncated.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.media_factory import X264, ffmpeg, lavfi
from video.analysis import _transnet_worker as worker
from video.analysis import shots
from video.analysis.decode import decode_video, video_info
from video.analysis.framestats import FrameStats, FrameStatsAccumulator

#: (lavfi source, frame rate) of each 1.5-s segment.
VFR_SEGMENTS = [("testsrc", 8), ("smptebars", 30), ("mandelbrot", 12), ("testsrc2", 24)]
SEGMENT_S = 1.5
CUT_TIMES = [SEGMENT_S * k for k in range(1, len(VFR_SEGMENTS))]


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("transnet_vfr") / "vfr.mp4"
    args: list[str] = []
    graph = ""
    for i, (src, rate) in enumerate(VFR_SEGMENTS):
        args += lavfi(f"{src}=s=320x180:r={rate}")
        graph += f"[{i}:v]trim=duration={SEGMENT_S},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}];"
    graph += "".join(f"[v{i}]" for i in range(len(VFR_SEGMENTS))) + f"concat=n={len(VFR_SEGMENTS)}:v=1:a=0[out]"
    ffmpeg(*args, "-filter_complex", graph, "-map", "[out]", "-fps_mode", "vfr", *X264, str(out))
    return out


def _ffprobe(path: Path, entries: str) -> dict:
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", entries]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(proc.stdout)


def _stats(path: Path) -> FrameStats:
    """The pipeline's decode (same call as ``analyze_video``'s, without samples and audio)."""
    info = video_info(path)
    acc = FrameStatsAccumulator(info.fps)
    decode_video(path, info=info, consumer=acc, sample_fps=0, with_audio=False)
    return acc.result()


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Mean BT.601 luma per frame on the limited (16..235) range, like ``FrameStats.luma``."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return y.mean(axis=(1, 2)) * 219.0 / 255.0 + 16.0


def test_the_source_really_has_a_variable_frame_rate(vfr_video):
    stream = _ffprobe(vfr_video, "stream=r_frame_rate,avg_frame_rate,nb_read_frames,duration")["streams"][0]
    n = int(stream["nb_read_frames"])
    assert n == sum(round(rate * SEGMENT_S) for _, rate in VFR_SEGMENTS) == 111
    num, den = (int(x) for x in stream["r_frame_rate"].split("/"))
    assert abs(n - float(stream["duration"]) * num / den) > 100  # not duration x fps
    durations = {
        round(float(f["duration_time"]) * 1000)
        for f in _ffprobe(vfr_video, "packet=duration_time")["packets"]
        if f.get("duration_time") not in (None, "N/A")
    }
    assert {125, 33, 83, 42} <= durations  # 1/8, 1/30, 1/12, 1/24 s: one per segment


def test_worker_decodes_the_analysed_frames_of_a_vfr_source(vfr_video):
    fs = _stats(vfr_video)
    rate = shots.analysis_rate(fs.fps)
    frames = worker.decode_frames("ffmpeg", str(vfr_video), f"{rate.numerator}/{rate.denominator}")
    assert frames.shape == (fs.n, 27, 48, 3)
    # frame i is the analysis' frame i: the mean brightness agrees frame by frame (the
    # segments differ by 20-50 levels, so a grid shifted by one frame around a cut fails)
    assert np.abs(_luma(frames) - fs.luma).max() < 4.0
    # the fast detector on the same frames puts the cuts where the clock says
    fast = [c["time"] for c in shots.detect_shots(fs)[1]]
    assert len(fast) == len(CUT_TIMES)
    assert all(abs(t - truth) <= 1 / fs.fps for t, truth in zip(fast, CUT_TIMES, strict=True))


def test_the_worker_frames_are_not_what_a_plain_decode_gives(vfr_video):
    """Guards the test above: without the ``fps`` filter the frames are other frames (same count here)."""
    fs = _stats(vfr_video)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(vfr_video), "-vf", "scale=48:27:flags=bilinear,format=rgb24"]
    cmd += ["-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]
    raw = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    plain = np.frombuffer(raw, np.uint8).reshape(-1, 27, 48, 3)
    assert plain.shape[0] == fs.n
    assert np.abs(_luma(plain) - fs.luma).max() > 20.0


def test_a_prediction_count_other_than_the_analysed_frames_is_refused(cuts_video):
    fs = _stats(cuts_video)
    assert fs.n == 120
    for n in (fs.n - 1, fs.n + 40):
        pred = np.zeros(n, np.float32)
        pred[[29, 59, 89]] = 0.99
        with pytest.raises(shots.FrameCountMismatch, match=f"{n} frame predictions where the analysis decoded 120"):
            shots.detect_shots_transnetv2(cuts_video, fs, predictions=pred)
    # exactly one per frame: accepted
    pred = np.zeros(fs.n, np.float32)
    pred[[29, 59, 89]] = 0.99
    assert [c["frame"] for c in shots.detect_shots_transnetv2(cuts_video, fs, predictions=pred)[1]] == [30, 60, 90]


@pytest.mark.slow
def test_transnetv2_in_the_pipeline_places_vfr_cuts_within_one_analysed_frame(vfr_video, monkeypatch):
    from video.analysis.pipeline import analyze_video

    real = shots.transnetv2_predictions
    seen: list[tuple[float | None, int]] = []

    def spy(path, **kw):
        pred = real(path, **kw)
        seen.append((kw.get("fps"), int(pred.shape[0])))
        return pred

    monkeypatch.setattr(shots, "transnetv2_predictions", spy)
    r = analyze_video(vfr_video, shot_detector="transnetv2", with_embeddings=False, with_faces=False)
    fps, n = r["meta"]["fps"], r["meta"]["nb_frames"]
    assert n == 111
    # the model ran once, on the pipeline's rate, with one prediction per analysed frame
    assert len(seen) == 1 and seen[0][0] == pytest.approx(fps, abs=1e-3) and seen[0][1] == n
    cuts = r["cuts"]
    assert [c["kind"] for c in cuts] == ["hard"] * len(CUT_TIMES)
    for cut, truth in zip(cuts, CUT_TIMES, strict=True):
        assert abs(cut["frame"] - truth * fps) <= 1, (cut, truth)
        assert abs(cut["time"] - truth) <= 1 / fps, (cut, truth)
    assert [s["transition_in"] for s in r["shots"]] == ["start", "cut", "cut", "cut"]
