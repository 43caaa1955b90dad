"""Segments that start on a keyframe are seeked to it: the same frames, no GOP decoded before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from render_media import make_clip

from rendering.engine import build_command, render_variant
from rendering.engine.keyframes import keyframe_seeks
from tests.media_factory import ffmpeg, lavfi

META = {"fps": 25, "width": 320, "height": 240, "has_audio": True, "duration": 8.0}
# one x264 thread: the encode is then bit-exact run to run, so equal frames mean equal decoded inputs
SMALL = {"preset": "ultrafast", "width": 180, "height": 320, "loudnorm_passes": 1, "verify": False, "threads": 1}


@pytest.fixture(scope="module")
def gop_source(tmp_path_factory) -> Path:
    """8 s of testsrc2 at 25 fps with a keyframe every 2 s exactly (no scene-cut keyframes), a tone."""
    out = tmp_path_factory.mktemp("kf") / "gop2.mp4"
    ffmpeg(
        *lavfi("testsrc2=size=320x240:rate=25:duration=8"),
        *lavfi("sine=frequency=440:sample_rate=48000:duration=8"),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out),
    )  # fmt: skip
    return out


def _seeks(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == "-ss"]


def test_keyframes_found_only_where_a_segment_starts_on_one(gop_source):
    got = keyframe_seeks(str(gop_source), [1.999999, 3.519999, 4.0, 5.999999, 2.5])
    assert got == {1.999999: 2.0, 4.0: 4.0, 5.999999: 6.0}
    assert keyframe_seeks(str(gop_source.with_name("missing.mp4")), [1.999999]) == {}
    assert keyframe_seeks(str(gop_source), []) == {}


def test_command_seeks_to_the_keyframe_and_renders_the_same_frames(gop_source, tmp_path):
    clip = make_clip([(2.0, 3.0), (3.52, 4.4), (6.0, 6.8)])
    on = build_command(str(gop_source), clip, str(tmp_path / "a.mp4"), meta=META, settings=dict(SMALL))
    off = build_command(
        str(gop_source), clip, str(tmp_path / "b.mp4"), meta=META, settings={**SMALL, "keyframe_seek": False}
    )
    assert _seeks(on) == ["2.000000", "3.519999", "6.000000"]
    assert _seeks(off) == ["1.999999", "3.519999", "5.999999"]

    def frames(name: str, settings: dict) -> list[str]:
        out = tmp_path / name
        render_variant(str(gop_source), clip, str(out), meta=META, settings=settings)
        proc = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(out), "-map", "0:v:0", "-f", "framemd5", "-"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return [line.rsplit(",", 1)[-1].strip() for line in proc.stdout.splitlines() if not line.startswith("#")]

    a, b = frames("on.mp4", dict(SMALL)), frames("off.mp4", {**SMALL, "keyframe_seek": False})
    assert len(a) == 80 and a == b  # 1.0 + 0.88 + 0.8 s at the render's 30 fps, frame for frame
