"""One low-resolution decode pass over a source video.

A single ffmpeg process decodes the source once and writes three raw outputs
to three pipes, read concurrently:

* **small frames** — every frame at the native rate, scaled so the long side
  is ``small_size`` px (160 by default, e.g. 160x90), ``yuv420p`` (luma plus
  quarter-size chroma: colour for the cut detector at 1.5 bytes per pixel).
  They are streamed in chunks to a *consumer* (see
  :class:`video.analysis.framestats.FrameStatsAccumulator`) that keeps only
  compact per-frame statistics, so a long video never sits in memory;
* **samples** — ``sample_fps`` RGB frames per second, long side
  ``sample_size`` px (224, e.g. 224x126), for the embedders and the face
  detector;
* **audio** — the first audio stream as 16 kHz mono float32, for energy,
  onsets and speech.

Why this shape (measured on the 5-minute 1080p30 H.264 bench source on the 2
shared cores, see ``bench/bench_video.py``): the H.264 decoder dominates; a
``fast_bilinear`` downscale straight to 160 px adds only ~5 % over ``-f null``
(an ``area``/``bicubic`` scale to 320 px costs ~50 %), splitting off a 2 fps
branch costs nothing because the ``fps`` filter drops frames *before* their
scaler runs, and the audio decode is negligible. Running the three outputs in
one process avoids decoding the video twice.

Frame times: raw video has no timestamps, so the graph starts with an ``fps``
filter at the source's rate (a no-op for constant-rate sources, a
dup/drop to a constant rate for variable-rate ones) and the outputs pass
frames through unchanged: frame ``i`` is at ``i / fps`` and sample ``k`` is
exactly frame ``k * step`` (``step = round(fps / sample_fps)``), at
``k * step / fps`` seconds from the first frame. (The ``fps=2`` filter would
pick the *last* frame of each half-second slot, ~0.2 s late.)
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from fala_clip.media.audio import decode_audio as _decode_audio
from fala_clip.media.procs import ffmpeg_bin, local_input, spawn
from video.analysis.shots import analysis_rate
from video.analysis.spill import SpillWriter

__all__ = [
    "VideoInfo",
    "DecodeResult",
    "video_info",
    "small_dims",
    "decode_video",
    "read_small_frames",
    "decode_audio",
    "AUDIO_RATE",
]

AUDIO_RATE = 16000

#: Frames handed to the consumer at once (160x90 yuv420p: 256 frames = 5.5 MB).
CHUNK_FRAMES = 256

FrameConsumer = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class VideoInfo:
    """What the decoder needs to know about the source (from ffprobe)."""

    duration: float
    fps: float
    width: int  # display width (after rotation)
    height: int
    video_codec: str | None
    audio_codec: str | None
    has_audio: bool
    nb_frames: int | None
    rotation: int = 0

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> VideoInfo:
        """Build from :func:`fala_clip.media.probe.gate_video` metadata."""
        v = meta.get("video") or {}
        a = meta.get("audio")
        w, h = int(v.get("width") or 0), int(v.get("height") or 0)
        rot = int(v.get("rotation") or 0)
        if rot in (90, 270):
            w, h = h, w
        return cls(
            duration=float(meta.get("duration") or 0.0),
            fps=float(v.get("fps") or 25.0),
            width=w,
            height=h,
            video_codec=v.get("codec"),
            audio_codec=a.get("codec") if a else None,
            has_audio=a is not None,
            nb_frames=v.get("nb_frames"),
            rotation=rot,
        )


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe ``path`` (through the gate's ffprobe, without limits)."""
    from fala_clip.media.probe import MediaLimits, gate_video

    meta = gate_video(
        path,
        MediaLimits(
            max_duration_s=None, max_bytes=None, max_width=None, max_height=None, max_fps=None, max_streams=None
        ),
    )
    return VideoInfo.from_meta(meta)


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def small_dims(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Even (w, h) with the long side ``long_side`` px and the aspect kept."""
    if width >= height:
        return _even(long_side), _even(long_side * height / max(width, 1))
    return _even(long_side * width / max(height, 1)), _even(long_side)


@dataclass
class DecodeResult:
    info: VideoInfo
    fps: float
    small_size: tuple[int, int]  # (w, h)
    n_frames: int
    # (M, H, W, 3) uint8 RGB; with spill_dir a SpillArray, which the analysers use like an
    # ndarray (len, shape, slicing, integer-array indexing, iteration)
    samples: np.ndarray
    sample_times: np.ndarray  # (M,) seconds
    sample_fps: float
    audio: np.ndarray | None  # float32 mono at audio_rate (a SpillArray with spill_dir)
    audio_rate: int
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)


class _PipeReader(threading.Thread):
    """Drain one pipe into memory (so ffmpeg never blocks on an unread output)."""

    def __init__(self, fd: int, name: str, spill: SpillWriter | None = None):
        super().__init__(name=f"ffmpeg-{name}", daemon=True)
        self._file = os.fdopen(fd, "rb", buffering=0)
        # one growing buffer, handed to numpy without a copy (a list of parts
        # joined at the end would need twice the memory) -- or, with ``spill``,
        # a file the output is appended to as it comes
        self.buf = bytearray()
        self.spill = spill
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                b = self._file.read(1 << 20)
                if not b:
                    break
                if self.spill is not None:
                    if self.error is None:
                        try:
                            self.spill.write_bytes(b)
                        except OSError as exc:  # e.g. the disk is full: keep draining, raise after
                            self.error = exc
                else:
                    self.buf += b
        except BaseException as exc:  # pragma: no cover - surfaced by the caller
            self.error = exc
        finally:
            self._file.close()
            if self.spill is not None:
                self.spill.close()

    def data(self) -> bytearray:
        return self.buf


def _read_exact(stream: Any, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; fewer only at EOF."""
    buf = bytearray()
    while len(buf) < n:
        b = stream.read(n - len(buf))
        if not b:
            break
        buf += b
    return bytes(buf)


def decode_video(
    path: str | os.PathLike[str],
    *,
    info: VideoInfo | None = None,
    consumer: FrameConsumer | None = None,
    small_size: int = 160,
    sample_fps: float = 2.0,
    sample_size: int = 224,
    audio_rate: int = AUDIO_RATE,
    with_audio: bool = True,
    threads: int = 0,
    skip_loop_filter: bool = False,
    timeout_s: float | None = None,
    chunk_frames: int = CHUNK_FRAMES,
    max_samples: int | None = 2400,
    spill_dir: str | os.PathLike[str] | None = None,
    on_started: Callable[[], object] | None = None,
) -> DecodeResult:
    """Decode ``path`` once; stream small frames to ``consumer(y, u, v)``.

    ``y`` is ``(n, h, w)`` uint8 luma, ``u``/``v`` ``(n, h/2, w/2)`` chroma for
    the next ``n`` consecutive frames. Returns the RGB samples, the audio and
    frame counts. ``sample_fps=0`` disables samples, ``with_audio=False`` the
    audio; ``max_samples`` caps the samples of long sources (224x126 RGB is
    85 kB a sample) by sampling less often. ``skip_loop_filter`` saves ~10 % of
    an H.264 decode (the 60-s W5 piece: 5.24 -> 4.70 s); the reference frames are
    then decoded without deblocking and the error drifts until the next keyframe:
    measured, the same cuts on every source tried, and the 224-px samples
    0.86/255 apart on average with a 5-s keyframe interval (4.6 at worst after
    25 s without one). Off by default here; the clip pipeline turns it on
    (``VIDEO_DECODE_SKIP_LOOP_FILTER``). ``spill_dir``: the samples and the audio are written to files
    there (``samples.rgb``, ``audio.f32``) as they are decoded and returned as
    :class:`video.analysis.spill.SpillArray` (read a piece at a time), so the
    process's memory does not grow with the source's length; the caller owns
    the files. ``on_started``: called once ffmpeg runs (its exceptions propagate after ffmpeg
    is stopped), e.g. to start work that may share the decode's idle share but should not delay
    its start. Raises :class:`FFmpegError` / :class:`FFmpegTimeout` with ffmpeg's stderr tail.
    """
    path = Path(path)
    info = info or video_info(path)
    sw, sh = small_dims(info.width, info.height, small_size)
    want_audio = with_audio and info.has_audio
    want_samples = sample_fps > 0
    pw, ph = small_dims(info.width, info.height, sample_size) if want_samples else (0, 0)
    if timeout_s is None:
        timeout_s = max(120.0, 3.0 * info.duration)

    # A constant rate first (a no-op for CFR sources): frame i of both branches
    # is then at i / fps, and samples are exactly every `step`-th frame.
    rate = analysis_rate(info.fps)
    fps = float(rate)
    step = max(1, int(round(fps / sample_fps))) if want_samples else 0
    if want_samples and max_samples:
        # long sources: fewer samples per second rather than unbounded memory
        expected = max(info.duration, 1.0) * fps
        step = max(step, int(math.ceil(expected / max_samples)))
    small_chain = f"scale={sw}:{sh}:flags=fast_bilinear,format=yuv420p"
    head = f"[0:v:0]fps={rate.numerator}/{rate.denominator}"
    if want_samples:
        graph = (
            f"{head},split=2[a][b];[a]{small_chain}[small];"
            f"[b]select='not(mod(n\\,{step}))',scale={pw}:{ph}:flags=bilinear,format=rgb24[samp]"
        )
    else:
        graph = f"{head},{small_chain}[small]"

    extra_fds: list[int] = []
    readers: dict[str, _PipeReader] = {}
    # passthrough: never duplicate frames to a nominal rate (select's output
    # keeps the source rate in its metadata)
    out_args: list[str] = ["-map", "[small]", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]
    parent_ends: dict[str, int] = {}
    # Child pipe fds must have known numbers in the child; pass_fds keeps the
    # fd numbers, so we ask ffmpeg for pipe:<that number>.
    if want_samples:
        r, w = os.pipe()
        parent_ends["samples"] = r
        extra_fds.append(w)
        out_args += ["-map", "[samp]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{w}"]
    if want_audio:
        r, w = os.pipe()
        parent_ends["audio"] = r
        extra_fds.append(w)
        out_args += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(audio_rate), "-f", "f32le", f"pipe:{w}"]

    in_args: list[str] = []
    if threads:
        in_args += ["-threads", str(threads)]
    if skip_loop_filter:
        in_args += ["-skip_loop_filter", "all"]
    cmd = [
        ffmpeg_bin(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *in_args,
        *local_input(path),
        "-filter_complex",
        graph,
        *out_args,
    ]
    t0 = time.perf_counter()
    try:
        # the layer: parent-death signal, stderr tail, deadline watchdog
        child = spawn(cmd, timeout=timeout_s, pass_fds=extra_fds, what="decoding")
    finally:
        for fd in extra_fds:
            os.close(fd)
    spills: dict[str, SpillWriter] = {}
    if spill_dir is not None:
        if want_samples:
            spills["samples"] = SpillWriter(Path(spill_dir) / "samples.rgb", np.uint8, (ph, pw, 3))
        if want_audio:
            spills["audio"] = SpillWriter(Path(spill_dir) / "audio.f32", "<f4")
    for name, fd in parent_ends.items():
        readers[name] = _PipeReader(fd, name, spills.get(name))
        readers[name].start()

    ysz, csz = sw * sh, (sw // 2) * (sh // 2)
    fsz = ysz + 2 * csz
    n_frames = 0
    # A thread drains stdout into a small queue so that ffmpeg keeps decoding
    # while the consumer computes (a bare pipe holds ~3 small frames: reading
    # and computing in one thread would serialise the two).
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def pump() -> None:
        assert child.stdout is not None
        try:
            while not stop.is_set():
                buf = _read_exact(child.stdout, fsz * chunk_frames)
                if not buf:
                    break
                chunks.put(buf)
                if len(buf) < fsz * chunk_frames:
                    break
        finally:
            chunks.put(None)

    pumper = threading.Thread(target=pump, name="ffmpeg-small", daemon=True)
    pumper.start()
    try:
        with child:
            try:
                if on_started is not None:
                    on_started()
                while True:
                    buf = chunks.get()
                    if buf is None:
                        break
                    n = len(buf) // fsz
                    if n == 0:
                        break
                    arr = np.frombuffer(buf, dtype=np.uint8, count=n * fsz).reshape(n, fsz)
                    if consumer is not None:
                        y = arr[:, :ysz].reshape(n, sh, sw)
                        u = arr[:, ysz : ysz + csz].reshape(n, sh // 2, sw // 2)
                        v = arr[:, ysz + csz :].reshape(n, sh // 2, sw // 2)
                        consumer(y, u, v)
                    n_frames += n
            except BaseException:
                stop.set()
                child.kill()
                # unblock the pump if it waits on a full queue
                with contextlib.suppress(queue.Empty):
                    while True:
                        chunks.get_nowait()
                raise
            child.wait()  # raises FFmpegError / FFmpegTimeout with the stderr tail
    finally:
        pumper.join(timeout=30)
        for reader in readers.values():
            reader.join(timeout=30)

    for reader in readers.values():
        if reader.error is not None:
            raise reader.error
    samples = np.zeros((0, ph, pw, 3), np.uint8)
    audio: np.ndarray | None = None
    if "samples" in spills:
        samples = cast(np.ndarray, spills["samples"].array())
    elif want_samples:
        raw = readers["samples"].data()
        m = len(raw) // (pw * ph * 3)
        samples = np.frombuffer(raw, dtype=np.uint8, count=m * pw * ph * 3).reshape(m, ph, pw, 3)
    if "audio" in spills:
        audio = cast(np.ndarray, spills["audio"].array())
    elif want_audio:
        raw = readers["audio"].data()
        audio = np.frombuffer(raw, dtype="<f4", count=len(raw) // 4)

    return DecodeResult(
        info=info,
        fps=fps,
        small_size=(sw, sh),
        n_frames=n_frames,
        samples=samples,
        sample_times=np.arange(len(samples), dtype=np.float64) * step / fps if want_samples else np.zeros(0),
        sample_fps=fps / step if want_samples else 0.0,
        audio=audio,
        audio_rate=audio_rate,
        seconds=time.perf_counter() - t0,
        params={
            "small": f"{sw}x{sh} yuv420p fast_bilinear",
            "samples": f"{pw}x{ph} rgb24 every {step} frames" if want_samples else None,
            "audio": f"{audio_rate} Hz mono f32" if want_audio else None,
            "skip_loop_filter": skip_loop_filter,
            "threads": threads or "auto",
        },
    )


def read_small_frames(
    path: str | os.PathLike[str], *, small_size: int = 160, info: VideoInfo | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """All small frames of a (short) video in memory: ``(y, u, v, fps)``.

    For tests and short clips only; the pipeline streams instead.
    """
    ys: list[np.ndarray] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []

    def keep(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        ys.append(y.copy())
        us.append(u.copy())
        vs.append(v.copy())

    res = decode_video(path, info=info, consumer=keep, small_size=small_size, sample_fps=0, with_audio=False)
    sw, sh = res.small_size
    if not ys:
        return (
            np.zeros((0, sh, sw), np.uint8),
            np.zeros((0, sh // 2, sw // 2), np.uint8),
            np.zeros((0, sh // 2, sw // 2), np.uint8),
            res.fps,
        )
    return np.concatenate(ys), np.concatenate(us), np.concatenate(vs), res.fps


def decode_audio(path: str | os.PathLike[str], *, rate: int = AUDIO_RATE, timeout_s: float = 600.0) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``rate`` Hz (the shared decoder)."""
    return _decode_audio(path, rate, timeout_s=timeout_s)
