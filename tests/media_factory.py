"""One place for the recipes that generate test media (ffmpeg and numpy).

Tests import what they need from here instead of carrying their own ffmpeg
command lines.  Every recipe writes to a path the caller gives and returns it.
"""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str, timeout: float = 120) -> None:
    """Run ffmpeg quietly; raise with its stderr tail when it fails."""
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)}\n{proc.stderr[-2000:]}")


# --- a real face ----------------------------------------------------------------

# skimage.data.astronaut() (Eileen Collins, NASA, public domain), 512x512 RGB.
# Its face, labelled by hand in the 512 px image (eyebrows to chin, ear to ear).
ASTRONAUT_FACE = (180, 78, 270, 178)  # x0, y0, x1, y1


def astronaut_path() -> Path | None:
    """The photo file inside the installed scikit-image package (not imported: its
    io stack pulls optional dependencies), or None when scikit-image is absent."""
    spec = importlib.util.find_spec("skimage")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        p = Path(loc) / "data" / "astronaut.png"
        if p.is_file():
            return p
    return None


@dataclass(frozen=True)
class MovingFace:
    """A generated video with a real face moving left to right, and where the face truly is."""

    path: Path
    width: int
    height: int
    fps: int
    duration: float
    scale: float  # photo pixels -> video pixels
    top: int  # photo's top edge in the video
    travel: int  # how far the photo's left edge moves over the whole video (px)

    def face_box(self, t: float) -> tuple[float, float, float, float]:
        """The true face box (x0, y0, x1, y1) in video pixels at time ``t`` (s)."""
        frame = min(int(round(t * self.fps)), int(self.duration * self.fps) - 1)
        left = self._left(frame)
        x0, y0, x1, y1 = ASTRONAUT_FACE
        s = self.scale
        return (left + x0 * s, self.top + y0 * s, left + x1 * s, self.top + y1 * s)

    def _left(self, frame: int) -> int:
        n = int(self.duration * self.fps)
        return int(round(self.travel * frame / max(1, n - 1)))


def moving_face_video(
    path: Path,
    photo: Path,
    *,
    width: int = 960,
    height: int = 540,
    fps: int = 25,
    duration: float = 8.0,
    photo_size: int = 480,
) -> MovingFace:
    """The astronaut photo (``photo_size`` px square) slides from the left edge to the
    right edge of a 16:9 grey frame over ``duration`` s, with a 440 Hz tone (AAC)."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(photo), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (photo_size, photo_size), interpolation=cv2.INTER_AREA)
    top = (height - photo_size) // 2
    info = MovingFace(
        path=path,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        scale=photo_size / 512,
        top=top,
        travel=width - photo_size,
    )
    # a soft horizontal gradient, so the background is not a flat colour
    background = np.broadcast_to(np.linspace(90, 150, width, dtype=np.uint8)[None, :, None], (height, width, 3))
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
        *X264, "-c:a", "aac", "-shortest", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in range(int(duration * fps)):
            canvas = background.copy()
            left = info._left(frame)
            canvas[top : top + photo_size, left : left + photo_size] = img
            proc.stdin.write(canvas.tobytes())
    finally:
        proc.stdin.close()
        assert proc.stderr is not None
        err = proc.stderr.read()  # ffmpeg logs errors only: this pipe never fills
        proc.wait(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg (moving face) failed: {err.decode(errors='replace')[-2000:]}")
    return info


def read_frame(path: Path, t: float, width: int, height: int) -> np.ndarray:
    """One RGB frame of ``path`` at ``t`` seconds, as ``height x width x 3`` uint8."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, np.uint8).reshape(height, width, 3)
