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
        "-f",
        "lavfi",
        "-i",
        f"testsrc=s=320x240:r={FPS}:d=1.2",
        "-f",
        "lavfi",
        "-i",
        f"smptebars=s=320x240:r={FPS}:d=1.2",
        "-f",
        "lavfi",
        "-i",
        f"mandelbrot=s=320x240:r={FPS}",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=320x240:r={FPS}:d=1.2",
        "-filter_complex",
        "[2]trim=duration=1.2,setpts=PTS-STARTPTS[m];[0][1][m][3]concat=n=4:v=1:a=0",
        *X264,
        str(out),
    )
    return out


@pytest.fixture(scope="session")
def pan_video(media_dir: Path) -> Path:
    """A 4 s slow diagonal pan across a 1280x720 testsrc2 picture (no cut)."""
    out = media_dir / "pan.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=1280x720:r={FPS}:d=4",
        "-vf",
        "crop=320:180:x='100+40*t':y='60+15*t'",
        *X264,
        str(out),
    )
    return out


@pytest.fixture(scope="session")
def shaky_video(media_dir: Path) -> Path:
    """4 s of handheld-like jitter: a 320x180 window jumping up to 30x20 px every frame (no cut)."""
    out = media_dir / "shaky.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=1280x720:r={FPS}:d=4",
        "-vf",
        "crop=320:180:x='200+30*random(1)':y='100+20*random(2)'",
        *X264,
        str(out),
    )
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
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=s=320x180:r={FPS}:d=2",
        "-f",
        "lavfi",
        "-i",
        f"smptebars=s=320x180:r={FPS}:d=2",
        "-filter_complex",
        "[0][1]xfade=transition=fade:duration=1:offset=1",
        *X264,
        str(out),
    )
    return out


FLASH_AT = 2.0


@pytest.fixture(scope="session")
def flash_video(media_dir: Path) -> Path:
    """Dimmed testsrc2 with a 2-frame white flash and a 100 ms 1 kHz beep both at 2.0 s; silence elsewhere."""
    out = media_dir / "flash.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=320x180:r={FPS}:d=4",
        "-f",
        "lavfi",
        "-i",
        "aevalsrc=exprs='if(between(t\\,2\\,2.1)\\,0.8*sin(2*PI*1000*t)\\,0)':s=16000:d=4",
        "-vf",
        "eq=brightness=-0.25,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,2,2.079)'",
        *X264,
        "-c:a",
        "aac",
        "-shortest",
        str(out),
    )
    return out


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
    args: list[str] = []
    graph = ""
    for i, (src, n) in enumerate(MIXED_SEGMENTS):
        args += ["-f", "lavfi", "-i", src]
        graph += f"[{i}:v]trim=end_frame={n},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}];"
    graph += "".join(f"[v{i}]" for i in range(len(MIXED_SEGMENTS))) + f"concat=n={len(MIXED_SEGMENTS)}:v=1:a=0[out]"
    ffmpeg(
        *args,
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "28",
        str(out),
    )
    cuts, t = [], 0
    for _, n in MIXED_SEGMENTS[:-1]:
        t += n
        cuts.append(t)
    return out, cuts
