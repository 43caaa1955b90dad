"""One place for the recipes that generate test media (ffmpeg and numpy).

Tests import what they need from here instead of carrying their own ffmpeg
command lines: lavfi test sources with or without a tone, flashes with beeps at
known instants, a music bed, concatenated sources with hard cuts at known
frames, a real face moving across the frame, and frame/audio readers.  Every
recipe writes to a path the caller gives and returns it.  (Numpy-synthesised
music — click tracks, drum patterns — lives in ``tests/music/analysis/synth.py``;
the demo's sample media in ``fala_clip.media.samples``.)
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str, cwd: Path | None = None, timeout: float = 120) -> None:
    """Run ffmpeg quietly; raise with its stderr tail when it fails."""
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], cwd=cwd, timeout=timeout)


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 120) -> None:
    """Run a media command; raise with its stderr tail when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{proc.stderr[-2000:]}")


def lavfi(source: str) -> list[str]:
    """The input arguments of one lavfi source (``testsrc=...``, ``sine=...``)."""
    return ["-f", "lavfi", "-i", source]


# --- lavfi sources ---------------------------------------------------------------


def testsrc_video(
    out: Path,
    *,
    size: str = "160x120",
    rate: int = 25,
    duration: float = 2,
    tone: int | None = None,
    tone_sr: int = 22050,
    container: str | None = None,
) -> Path:
    """testsrc (H.264), with a ``tone`` Hz sine (AAC) when given; ``container`` forces the format (``mpegts``)."""
    args = lavfi(f"testsrc=size={size}:rate={rate}:duration={duration}")
    if tone is not None:
        args += lavfi(f"sine=frequency={tone}:sample_rate={tone_sr}:duration={duration}")
    args += X264
    if tone is not None:
        args += ["-c:a", "aac", "-shortest"]
    if container:
        args += ["-f", container]
    ffmpeg(*args, str(out))
    return out


def sine_audio(out: Path, *, freq: int = 440, sample_rate: int = 22050, duration: float = 3, codec: Sequence[str] = ()):
    """A sine tone; the codec follows the extension unless ``codec`` gives one (``-c:a libmp3lame -b:a 64k``)."""
    ffmpeg(*lavfi(f"sine=frequency={freq}:sample_rate={sample_rate}:duration={duration}"), *codec, str(out))
    return out


def filtered_video(out: Path, source: str, *, vf: str | None = None, duration: float | None = None) -> Path:
    """One lavfi video source through an optional ``-vf`` filter, cut to ``duration`` s (H.264)."""
    args = lavfi(source)
    if vf:
        args += ["-vf", vf]
    if duration is not None:
        args += ["-t", str(duration)]
    ffmpeg(*args, *X264, str(out))
    return out


def concat_segments(out: Path, segments: Sequence[tuple[str, int]], *, crf: int | None = None) -> list[int]:
    """Concatenate ``(lavfi source, frames)`` segments (H.264); returns the cut frames (hard cuts)."""
    args: list[str] = []
    graph = ""
    for i, (src, n) in enumerate(segments):
        args += lavfi(src)
        graph += f"[{i}:v]trim=end_frame={n},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}];"
    graph += "".join(f"[v{i}]" for i in range(len(segments))) + f"concat=n={len(segments)}:v=1:a=0[out]"
    quality = ["-crf", str(crf)] if crf is not None else []
    ffmpeg(
        *args, "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "ultrafast", *quality, str(out)
    )
    cuts, frame = [], 0
    for _, n in segments[:-1]:
        frame += n
        cuts.append(frame)
    return cuts


# --- flashes and beeps at known instants -----------------------------------------


def flash_beep_video(out: Path, *, size: str = "320x180", rate: int = 25, duration: float = 4, at: float = 2.0):
    """Dimmed testsrc2 with a 2-frame white flash and a 100 ms 1 kHz beep (16 kHz AAC) both at ``at`` s."""
    ffmpeg(
        *lavfi(f"testsrc2=s={size}:r={rate}:d={duration}"),
        *lavfi(
            f"aevalsrc=exprs='if(between(t\\,{at:g}\\,{at + 0.1:g})\\,0.8*sin(2*PI*1000*t)\\,0)':s=16000:d={duration}"
        ),
        "-vf",
        f"eq=brightness=-0.25,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,{at:g},{at + 0.079:g})'",
        *X264,
        "-c:a",
        "aac",
        "-shortest",
        str(out),
    )
    return out


def flash_source(
    path: Path,
    *,
    duration: float = 10.0,
    fps: int = 30,
    size: str = "640x360",
    flashes: list[float],
    beep_len: float = 0.1,
    audio: bool = True,
    gop: int = 48,
) -> Path:
    """testsrc + a white frame at each flash time, a sample-exact 1 kHz beep at the same times over a
    200 Hz bed (``aevalsrc``: ``volume`` with ``enable=`` would gate per 21-ms audio frame)."""
    enable = "+".join(f"eq(n,{round(t * fps)})" for t in flashes)
    args = [
        *lavfi(f"testsrc=size={size}:rate={fps}:duration={duration}"),
        *lavfi(f"color=white:size={size}:rate={fps}:duration={duration}"),
    ]
    fc = f"[0][1]overlay=enable='{enable}'[v]"
    maps = ["-map", "[v]"]
    if audio:
        gate = "+".join(f"between(t,{t:.6f},{t + beep_len:.6f})" for t in flashes)
        expr = f"0.5*sin(2*PI*1000*t)*({gate})+0.3*sin(2*PI*200*t)"
        args += lavfi(f"aevalsrc='{expr}':c=stereo:s=48000:d={duration}")
        maps += ["-map", "2:a", "-c:a", "aac", "-b:a", "128k"]
    args += ["-filter_complex", fc, *maps, "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop)]
    ffmpeg(*args, "-pix_fmt", "yuv420p", str(path))
    return path


def music_bed(path: Path, *, duration: float = 8.0, freq: float = 440.0) -> Path:
    """A 'music' bed: a ``freq`` Hz tone plus quiet pink noise, stereo AAC."""
    ffmpeg(
        *lavfi(f"sine=f={freq}:r=48000:d={duration}"),
        *lavfi(f"anoisesrc=c=pink:a=0.05:r=48000:d={duration}"),
        "-filter_complex",
        "[0][1]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo[a]",
        "-map",
        "[a]",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        str(path),
    )
    return path


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
