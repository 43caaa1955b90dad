"""Synthetic test media for the video analysers, from the shared recipes in ``tests.media_factory``.

Every clip is a few seconds at 25 fps and at most 320x240, encoded with
libx264 ultrafast into a session temp dir: the whole set takes ~2 s to make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import X264, concat_segments, ffmpeg, filtered_video, flash_beep_video, lavfi

FPS = 25
FLASH_AT = 2.0


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video_analysis_media")


@pytest.fixture(scope="session")
def cuts_video(media_dir: Path) -> Path:
    """testsrc | smptebars | mandelbrot | testsrc2, 30 frames each: hard cuts at frames 30, 60, 90."""
    out = media_dir / "cuts.mp4"
    sources = ["testsrc", "smptebars", "mandelbrot", "testsrc2"]
    assert concat_segments(out, [(f"{src}=s=320x240:r={FPS}", 30) for src in sources]) == [30, 60, 90]
    return out


@pytest.fixture(scope="session")
def pan_video(media_dir: Path) -> Path:
    """A 4 s slow diagonal pan across a 1280x720 testsrc2 picture (no cut)."""
    return filtered_video(
        media_dir / "pan.mp4", f"testsrc2=s=1280x720:r={FPS}:d=4", vf="crop=320:180:x='100+40*t':y='60+15*t'"
    )


@pytest.fixture(scope="session")
def shaky_video(media_dir: Path) -> Path:
    """4 s of handheld-like jitter: a 320x180 window jumping up to 30x20 px every frame (no cut)."""
    return filtered_video(
        media_dir / "shaky.mp4",
        f"testsrc2=s=1280x720:r={FPS}:d=4",
        vf="crop=320:180:x='200+30*random(1)':y='100+20*random(2)'",
    )


@pytest.fixture(scope="session")
def zoom_video(media_dir: Path) -> Path:
    """4 s of ffmpeg's continuously zooming mandelbrot (no cut)."""
    return filtered_video(media_dir / "zoom.mp4", f"mandelbrot=s=320x180:r={FPS}", duration=4)


@pytest.fixture(scope="session")
def dissolve_video(media_dir: Path) -> Path:
    """testsrc cross-fading into smptebars from 1.0 s to 2.0 s (frames 25..50)."""
    out = media_dir / "dissolve.mp4"
    ffmpeg(
        *lavfi(f"testsrc=s=320x180:r={FPS}:d=2"),
        *lavfi(f"smptebars=s=320x180:r={FPS}:d=2"),
        *("-filter_complex", "[0][1]xfade=transition=fade:duration=1:offset=1"),
        *X264,
        str(out),
    )
    return out


@pytest.fixture(scope="session")
def flash_video(media_dir: Path) -> Path:
    """Dimmed testsrc2 with a 2-frame white flash and a 100 ms 1 kHz beep both at 2.0 s; silence elsewhere."""
    return flash_beep_video(media_dir / "flash.mp4", size="320x180", rate=FPS, duration=4, at=FLASH_AT)


#: (lavfi source, frames) of the mixed cuts video: flat colours, patterns, busy
#: cellular automata (every frame changes), a colour sweep and a pan.
MIXED_SEGMENTS = [
    ("testsrc=s=320x180:r=25", 38),
    ("smptebars=s=320x180:r=25", 22),
    ("mandelbrot=s=320x180:r=25", 50),
    ("testsrc2=s=320x180:r=25", 31),
    ("rgbtestsrc=s=320x180:r=25", 17),
    ("cellauto=s=320x180:r=25:rule=110:seed=3", 44),
    ("life=s=320x180:r=25:mold=10:ratio=0.3:seed=3", 26),
    ("gradients=s=320x180:r=25:speed=0.05", 60),
    ("yuvtestsrc=s=320x180:r=25", 19),
    ("pal100bars=s=320x180:r=25", 35),
    ("gradients=s=320x180:r=25:c0=red:c1=blue:speed=0.1", 41),
    ("testsrc2=s=1280x720:r=25,crop=320:180:x='50+60*t':y=100", 28),
]


@pytest.fixture(scope="session")
def mixed_cuts_video(media_dir: Path) -> tuple[Path, list[int]]:
    """12 segments, 411 frames, CRF 28: returns (path, cut frames)."""
    out = media_dir / "mixed.mp4"
    return out, concat_segments(out, MIXED_SEGMENTS, crf=28)
