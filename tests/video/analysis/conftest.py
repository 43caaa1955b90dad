"""Synthetic test media generated with ffmpeg's lavfi sources (small and short).

Every clip is a few seconds at 25 fps and at most 320x240, encoded with
libx264 ultrafast into a session temp dir: the whole set takes ~2 s to make.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

FPS = 25


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video_analysis_media")


@pytest.fixture(scope="session")
def cuts_video(media_dir: Path) -> Path:
    """testsrc | smptebars | mandelbrot | testsrc2, 30 frames each: hard cuts at frames 30, 60, 90."""
    out = media_dir / "cuts.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=s=320x240:r={FPS}:d=1.2",
        "-f", "lavfi", "-i", f"smptebars=s=320x240:r={FPS}:d=1.2",
        "-f", "lavfi", "-i", f"mandelbrot=s=320x240:r={FPS}",
        "-f", "lavfi", "-i", f"testsrc2=s=320x240:r={FPS}:d=1.2",
        "-filter_complex", "[2]trim=duration=1.2,setpts=PTS-STARTPTS[m];[0][1][m][3]concat=n=4:v=1:a=0",
        *X264, str(out),
    )
    return out


@pytest.fixture(scope="session")
def pan_video(media_dir: Path) -> Path:
    """A 4 s slow diagonal pan across a 1280x720 testsrc2 picture (no cut)."""
    out = media_dir / "pan.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r={FPS}:d=4",
           "-vf", "crop=320:180:x='100+40*t':y='60+15*t'", *X264, str(out))
    return out


@pytest.fixture(scope="session")
def zoom_video(media_dir: Path) -> Path:
    """4 s of ffmpeg's continuously zooming mandelbrot (no cut)."""
    out = media_dir / "zoom.mp4"
    ffmpeg("-f", "lavfi", "-i", f"mandelbrot=s=320x180:r={FPS}", "-t", "4", *X264, str(out))
    return out


@pytest.fixture(scope="session")
def dissolve_video(media_dir: Path) -> Path:
    """testsrc cross-fading into smptebars from 1.0 s to 2.0 s (frames 25..50)."""
    out = media_dir / "dissolve.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=s=320x180:r={FPS}:d=2",
           "-f", "lavfi", "-i", f"smptebars=s=320x180:r={FPS}:d=2",
           "-filter_complex", "[0][1]xfade=transition=fade:duration=1:offset=1", *X264, str(out))
    return out


FLASH_AT = 2.0


@pytest.fixture(scope="session")
def flash_video(media_dir: Path) -> Path:
    """Dimmed testsrc2 with a 2-frame white flash and a 100 ms 1 kHz beep both at 2.0 s; silence elsewhere."""
    out = media_dir / "flash.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=320x180:r={FPS}:d=4",
        "-f", "lavfi", "-i",
        "aevalsrc=exprs='if(between(t\\,2\\,2.1)\\,0.8*sin(2*PI*1000*t)\\,0)':s=16000:d=4",
        "-vf", "eq=brightness=-0.25,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,2,2.079)'",
        *X264, "-c:a", "aac", "-shortest", str(out),
    )
    return out
