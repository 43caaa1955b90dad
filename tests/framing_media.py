"""Generated sources with known content for the framing tests and ``bench/bench_framing.py``.

Each scene is a few seconds of 640x360 video whose important content is known per frame:

* ``moving`` — a striped figure walking left to right over a textured background;
* ``banner`` — a line of white text across 85 % of the frame over a dark textured background;
* ``edges`` — two figures standing at the left and right edges (12 % and 88 % of the width);
* ``offcentre`` — one figure at 80 % of the width, swaying a little;
* ``face`` — the real face photo scikit-image ships (``astronaut.png``) sliding across a textured
  background (camera still);
* ``late`` — the textured background alone for 2 s, then the figure enters and walks (for causality).

``Scene.boxes(t)`` gives the true boxes ``[x0, y0, x1, y1]`` in pixels of what must stay visible.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.media_factory import X264, astronaut_path

W, H, FPS = 640, 360, 25
FIG_W, FIG_H = 64, 150
BANNER_TEXT = "EACH OPEN MOVIE PROJECT"
SCENES = ("moving", "banner", "edges", "offcentre", "face", "late")


def _texture(seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(70, 170, size=(H // 12 + 1, W // 12 + 1, 3)).astype(np.uint8)
    tex = cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)
    fine = rng.integers(-18, 18, size=(H, W, 1))
    return np.clip(tex.astype(np.int16) + fine, 0, 255).astype(np.uint8)


def _figure() -> np.ndarray:
    """A person-like figure (RGBA): a round head over a striped body."""
    import cv2

    img = np.zeros((FIG_H, FIG_W, 4), np.uint8)
    cv2.circle(img, (FIG_W // 2, 22), 20, (235, 190, 150, 255), -1)
    cv2.rectangle(img, (6, 44), (FIG_W - 7, FIG_H - 1), (200, 30, 40, 255), -1)
    for y in range(50, FIG_H, 18):
        cv2.rectangle(img, (6, y), (FIG_W - 7, y + 6), (250, 220, 40, 255), -1)
    return img


def _paste(canvas: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    h, w = img.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    part = img[y0 - y : y1 - y, x0 - x : x1 - x]
    if part.shape[2] == 4:
        a = part[..., 3:4].astype(np.float32) / 255
        canvas[y0:y1, x0:x1] = (part[..., :3] * a + canvas[y0:y1, x0:x1] * (1 - a)).astype(np.uint8)
    else:
        canvas[y0:y1, x0:x1] = part


@dataclass
class Scene:
    kind: str
    duration: float = 4.0
    fps: int = FPS
    width: int = W
    height: int = H
    _bg: np.ndarray = field(init=False, repr=False)
    _fig: np.ndarray = field(init=False, repr=False)
    _face: np.ndarray | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        import cv2

        if self.kind not in SCENES:
            raise ValueError(self.kind)
        self._bg = _texture(SCENES.index(self.kind) + 1)
        if self.kind == "banner":
            self._bg = (self._bg.astype(np.float32) * 0.35).astype(np.uint8)
        self._fig = _figure()
        if self.kind == "face":
            photo = astronaut_path()
            if photo is None:
                raise FileNotFoundError("scikit-image's astronaut.png is not installed")
            img = cv2.cvtColor(cv2.imread(str(photo), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            # head and shoulders of the photo, 200 px tall in the video
            self._face = cv2.resize(img[20:320, 110:340], (154, 200), interpolation=cv2.INTER_AREA)

    @property
    def frames(self) -> int:
        return int(round(self.duration * self.fps))

    def _x(self, frame: int) -> list[int]:
        """Left edges of the figures (or the photo) at ``frame``."""
        u = frame / max(1, self.frames - 1)
        if self.kind == "moving":
            return [int(round(30 + u * (W - FIG_W - 60)))]
        if self.kind == "late":
            start = int(2.0 * self.fps)
            if frame < start:
                return []
            v = (frame - start) / max(1, self.frames - 1 - start)
            return [int(round(W - FIG_W - 20 - v * 260))]
        if self.kind == "edges":
            bob = int(round(6 * np.sin(frame / 6)))
            return [int(0.12 * W - FIG_W / 2) + bob, int(0.88 * W - FIG_W / 2) - bob]
        if self.kind == "offcentre":
            return [int(0.8 * W - FIG_W / 2 + 10 * np.sin(frame / 10))]
        if self.kind == "face":
            return [int(round(20 + u * (W - 154 - 40)))]
        return []

    def boxes(self, t: float) -> list[list[float]]:
        """True boxes (pixels) of what must stay visible at time ``t``."""
        frame = min(int(round(t * self.fps)), self.frames - 1)
        if self.kind == "banner":
            return [list(self._banner_box())]
        if self.kind == "face":
            x = self._x(frame)[0]
            # the face itself inside the pasted photo (hand-labelled in the 512 px photo)
            return [
                [
                    x + (180 - 110) * 154 / 230,
                    80 + (78 - 20) * 200 / 300,
                    x + (270 - 110) * 154 / 230,
                    80 + (178 - 20) * 200 / 300,
                ]
            ]
        y = (H - FIG_H) // 2 + 20
        return [[x, y, x + FIG_W, y + FIG_H] for x in self._x(frame)]

    def _banner_box(self) -> tuple[int, int, int, int]:
        import cv2

        scale, thick = 1.35, 3
        (tw, th), base = cv2.getTextSize(BANNER_TEXT, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
        x = (W - tw) // 2
        y = H // 2 + th // 2
        return x, y - th, x + tw, y + base

    def frame(self, frame: int) -> np.ndarray:
        import cv2

        canvas = self._bg.copy()
        if self.kind == "banner":
            x0, y1 = (
                self._banner_box()[0],
                H // 2 + cv2.getTextSize(BANNER_TEXT, cv2.FONT_HERSHEY_DUPLEX, 1.35, 3)[0][1] // 2,
            )
            cv2.putText(canvas, BANNER_TEXT, (x0, y1), cv2.FONT_HERSHEY_DUPLEX, 1.35, (245, 245, 245), 3, cv2.LINE_AA)
            return canvas
        if self.kind == "face":
            assert self._face is not None
            _paste(canvas, self._face, self._x(frame)[0], 80)
            return canvas
        y = (H - FIG_H) // 2 + 20
        for x in self._x(frame):
            _paste(canvas, self._fig, x, y)
        return canvas

    def iter_frames(self) -> Iterator[np.ndarray]:
        for i in range(self.frames):
            yield self.frame(i)

    def samples(self, sample_fps: float = 2.0, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
        """What the analysis decode delivers: ``sample_fps`` RGB frames, long side ``size`` (no codec)."""
        import cv2

        step = round(self.fps / sample_fps)
        idx = list(range(0, self.frames, step))
        sh = round(H * size / W / 2) * 2
        frames = np.stack([cv2.resize(self.frame(i), (size, sh), interpolation=cv2.INTER_AREA) for i in idx])
        return frames, np.asarray([i / self.fps for i in idx])

    def write(self, path: Path) -> Path:
        """H.264 + a 440 Hz tone, ``duration`` s."""
        write_frames(path, self.iter_frames(), fps=self.fps, duration=self.duration)
        return path


def write_frames(path: Path, frames: Iterator[np.ndarray], *, fps: int = FPS, duration: float) -> Path:
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
        *X264, "-g", str(fps), "-c:a", "aac", "-shortest", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for f in frames:
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read()
        proc.wait(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(err.decode(errors="replace")[-2000:])
    return path


def write_reel(path: Path, kinds: tuple[str, ...] = SCENES, duration: float = 4.0) -> tuple[Path, list[Scene]]:
    """The scenes back to back (hard cuts every ``duration`` s) in one file."""
    scenes = [Scene(k, duration=duration) for k in kinds]

    def frames() -> Iterator[np.ndarray]:
        for s in scenes:
            yield from s.iter_frames()

    write_frames(path, frames(), duration=duration * len(scenes))
    return path, scenes
