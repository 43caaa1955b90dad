"""Black/blank frames and fades from the decode's frame statistics, on planted content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media_factory import ffmpeg, lavfi
from video.analysis.blank import blank_frames, detect_blanks
from video.analysis.decode import decode_video, video_info
from video.analysis.framestats import FrameStatsAccumulator, frame_stats_from_arrays
from video.analysis.shots import ShotParams, detect_shots

FPS = 25


def stats(path: Path):
    info = video_info(path)
    acc = FrameStatsAccumulator(info.fps)
    decode_video(path, info=info, consumer=acc, sample_fps=0, with_audio=False)
    return acc.result()


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0-1 s black, 1-2 s fade-in, 2-5 s testsrc2, 5-6 s fade-out, 6-7 s black, 7-8 s white,
    8-9 s a title card (a white bar on black), 9-10 s testsrc."""
    out = tmp_path_factory.mktemp("blank") / "planted.mp4"
    ffmpeg(
        *lavfi(f"testsrc2=s=320x180:r={FPS}:d=7"),
        *lavfi(f"color=white:s=320x180:r={FPS}:d=1"),
        *lavfi(f"color=black:s=320x180:r={FPS}:d=1"),
        *lavfi(f"testsrc=s=320x180:r={FPS}:d=1"),
        "-filter_complex",
        "[0]fade=t=in:st=1:d=1,fade=t=out:st=5:d=1,format=yuv420p[a];[1]format=yuv420p[b];"
        "[2]drawbox=x=40:y=70:w=240:h=40:color=white:t=fill,format=yuv420p[c];[3]format=yuv420p[d];"
        "[a][b][c][d]concat=n=4:v=1:a=0[o]",
        *("-map", "[o]", "-c:v", "libx264", "-preset", "ultrafast"),
        str(out),
    )
    return out


def by_kind(items, kind):
    return [(b["start"], b["end"]) for b in items if b["kind"] == kind]


def test_planted_black_fades_and_white_are_found_to_a_few_frames(planted):
    fs = stats(planted)
    items = detect_blanks(fs)
    frame = 1 / FPS
    tol = 3 * frame
    black = by_kind(items, "black")
    assert len(black) == 2
    # the fade's first frames are near-black: the black run may end a frame or two late
    assert black[0][0] == 0.0 and 1.0 - frame <= black[0][1] <= 1.0 + tol
    assert 6.0 - tol <= black[1][0] <= 6.0 + frame and black[1][1] == pytest.approx(7.0, abs=frame / 2)
    (fade_in,) = by_kind(items, "fade_in")
    assert fade_in[0] == pytest.approx(black[0][1], abs=1e-6)  # starts where the black ends
    assert fade_in[1] == pytest.approx(2.0, abs=tol)
    (fade_out,) = by_kind(items, "fade_out")
    assert fade_out[0] == pytest.approx(5.0, abs=tol) and fade_out[1] == pytest.approx(black[1][0], abs=1e-6)
    (white,) = by_kind(items, "blank")
    assert white == (pytest.approx(7.0, abs=frame / 2), pytest.approx(8.0, abs=frame / 2))
    # the title card (8-9 s) and the pictures are never blank; nothing else is listed
    covered = np.zeros(fs.n, bool)
    for b in items:
        covered[b["frames"][0] : b["frames"][1] + 1] = True
    t = np.arange(fs.n) / FPS
    assert not covered[(t >= 2.0 + tol) & (t < 5.0 - tol)].any()
    assert not covered[t >= 8.0].any()
    assert {b["kind"] for b in items} == {"black", "fade_in", "fade_out", "blank"}


def test_hard_cut_out_of_black_is_no_fade():
    """Black frames then a bright picture at once: the black run only, no fade-in."""
    rng = np.random.default_rng(0)
    y = np.full((20, 90, 160), 16, np.uint8)
    y[10:] = rng.integers(40, 220, size=(10, 90, 160), dtype=np.uint8)
    u = np.full((20, 45, 80), 128, np.uint8)
    fs = frame_stats_from_arrays(y, u, u.copy(), FPS)
    items = detect_blanks(fs)
    assert [(b["kind"], b["frames"]) for b in items] == [("black", [0, 9])]


def test_dark_scene_with_detail_is_not_black():
    """A dim picture with structure (mean luma ~22) is not a black frame."""
    y = np.full((5, 90, 160), 16, np.uint8)
    y[:, 20:70, 30:130] = 40  # a dim shape covering a third of the frame
    u = np.full((5, 45, 80), 128, np.uint8)
    fs = frame_stats_from_arrays(y, u, u.copy(), FPS)
    black, blank = blank_frames(fs)
    assert not black.any() and not blank.any()


def test_dissolve_spans_from_the_shot_detector(tmp_path):
    out = tmp_path / "dissolve.mp4"
    ffmpeg(
        *lavfi(f"testsrc=s=320x180:r={FPS}:d=2"),
        *lavfi(f"smptebars=s=320x180:r={FPS}:d=2"),
        *("-filter_complex", "[0][1]xfade=transition=fade:duration=1:offset=1"),
        *("-c:v", "libx264", "-preset", "ultrafast"),
        str(out),
    )
    fs = stats(out)
    _shots, cuts = detect_shots(fs, ShotParams())
    spans = [c["span"] for c in cuts if c["kind"] == "gradual"]
    assert spans
    items = detect_blanks(fs, spans)
    assert [b["kind"] for b in items] == ["dissolve"]
    assert items[0]["start"] >= 1.0 - 2 / FPS and items[0]["end"] <= 2.0 + 2 / FPS


def test_empty_stats():
    fs = frame_stats_from_arrays(
        np.zeros((0, 90, 160), np.uint8), np.zeros((0, 45, 80), np.uint8), np.zeros((0, 45, 80), np.uint8), FPS
    )
    assert detect_blanks(fs) == []


def test_a_fade_that_runs_to_the_last_frame_without_reaching_black():
    """A picture fading down for 1 s to the end (last frame luma ~30): a fade-out to the end."""
    rng = np.random.default_rng(1)
    n, k = 50, 25
    base = rng.integers(60, 200, size=(90, 160)).astype(np.float32)
    gain = np.ones(n, np.float32)
    gain[n - k :] = np.linspace(1.0, 0.12, k)
    y = np.stack([np.clip(16 + (base - 16) * g, 0, 255) for g in gain]).astype(np.uint8)
    u = np.full((n, 45, 80), 128, np.uint8)
    items = detect_blanks(frame_stats_from_arrays(y, u, u.copy(), FPS))
    assert [b["kind"] for b in items] == ["fade_out"]
    assert n - k - 1 <= items[0]["frames"][0] <= n - k + 1 and items[0]["frames"][1] == n - 1
