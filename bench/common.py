"""The reference media every benchmark uses (DESIGN §10, workload W5), generated once.

* ``w5_source()``: a 5-minute 1920x1080 30 fps H.264 source at ~8 Mb/s with a
  2 s keyframe interval (like camera/phone footage) and AAC audio (a beeping
  440 Hz tone), from ffmpeg's testsrc2;
* ``w5_track()``: a 3-minute 120 BPM song with quiet and loud sections
  (``fala_clip.media.samples.sample_track``).

Both are cached under ``FALA_BENCH_DIR`` (default ``/tmp/fala-bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DIR = Path(os.environ.get("FALA_BENCH_DIR", "/tmp/fala-bench"))


def w5_source(seconds: int = 300) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    out = BENCH_DIR / f"src_{seconds}s_1080p30_8M_g60.mp4"
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp.mp4")
    print(f"generating {out} ({seconds} s 1080p30 H.264 8 Mb/s + AAC, once) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.rename(out)
    print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def w5_track(seconds: float = 180.0) -> Path:
    from fala_clip.media.samples import sample_track

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    out = BENCH_DIR / f"track_{int(seconds)}s_120bpm.wav"
    if not out.exists():
        sample_track(out.with_suffix(".tmp.wav"), duration=seconds).rename(out)
    return out
