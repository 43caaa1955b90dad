"""Faces' first pass and the saliency's per-sample maps, on the samples the decode has written, during the decode.

The decode (:func:`video.analysis.decode.decode_video`) writes its 224-px samples to
``samples.rgb`` as it goes, and ffmpeg's H.264 decoder leaves part of the second core
idle (~4.5 CPU-s over W5's 26-s decode, measured with a ``SCHED_IDLE`` YuNet loop beside
a bare decode: the decode took +0.5 s).  :class:`EarlySampleAnalysis` starts a child
process under Linux ``SCHED_IDLE`` (it runs only on a CPU nothing else wants) that
follows the file and, per sample, in order:

* YuNet at the tracker's low threshold -- pass one of
  :func:`video.analysis.faces.detect_faces_tracked`;
* :func:`video.analysis.saliency.sample_parts` against the sample before it, with the
  static map's blobs as well (whether the two samples are of one shot is known only
  once the shots are: :func:`video.analysis.saliency.assemble_sample` then picks).

After the decode, :meth:`EarlySampleAnalysis.stop` stops it and returns what it did (a
prefix of the samples); the face and saliency steps compute the rest themselves, and
their results are the same as without it (same functions, same inputs, one OpenCV thread
in both).  Nothing depends on the child: a child that fails, is slow or is not started
leaves the steps to do all the work, as before.

The child is plain Python (no Django) and dies with its parent (``PR_SET_PDEATHSIG``).
Its results go to a file of pickled records in the analysis's private spill directory,
one per sample, so that a child stopped mid-write loses at most the record it was writing.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EarlySampleAnalysis", "EarlyResult"]

log = logging.getLogger(__name__)

#: How long the child sleeps when it has caught up with the decode (it wakes at once on "stop").
POLL_S = 0.02
#: How long :meth:`EarlySampleAnalysis.stop` waits for the child to write its last record.
STOP_TIMEOUT_S = 5.0


class EarlyResult:
    """What the child did: pass one's boxes and the saliency parts of the first ``len(...)`` samples."""

    def __init__(self, faces: list[list[list[float]]], saliency: list[dict[str, Any]]):
        self.faces = faces
        self.saliency = saliency

    def __repr__(self) -> str:
        return f"EarlyResult(faces={len(self.faces)}, saliency={len(self.saliency)})"


def _records(path: Path) -> Iterator[tuple[int, Any, Any]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        while True:
            try:
                rec = pickle.load(f)
            except (EOFError, pickle.UnpicklingError, ValueError, AttributeError, IndexError, TypeError):
                return  # the end, or a record cut off when the child was stopped
            yield rec


class EarlySampleAnalysis:
    """The child described in the module docstring; :meth:`stop` ends it and returns its results.

    ``samples``: the spill file the decode writes (it may not exist yet);
    ``row_shape``: its rows' ``(h, w, 3)``; ``faces``/``saliency``: which to compute;
    ``face_model``: the YuNet file; ``face_threshold``: pass one's threshold;
    ``idle``: run under ``SCHED_IDLE`` (False: plain priority, for tests).
    """

    def __init__(
        self,
        samples: str | os.PathLike[str],
        row_shape: tuple[int, int, int],
        *,
        faces: bool,
        saliency: bool,
        face_model: str | os.PathLike[str] | None,
        face_threshold: float,
        idle: bool = True,
    ):
        from fala_clip.media.procs import die_with_parent
        from video.analysis import modelcache

        self.samples = Path(samples)
        self.out = self.samples.with_name("early.pickle")
        self.want_faces, self.want_saliency = faces, saliency
        h, w, c = (int(x) for x in row_shape)
        cmd = [
            sys.executable,
            "-m",
            "video.analysis.early",
            str(self.samples),
            str(self.out),
            f"{h}x{w}x{c}",
            "faces" if faces else "-",
            "saliency" if saliency else "-",
            str(face_model or ""),
            repr(float(face_threshold)),
            "idle" if idle else "normal",
            str(modelcache.cache_dir() or "-"),  # where YuNet's free-size copy is kept
        ]
        # the repository root on the path: the child imports this package as the parent does
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        self.started = time.perf_counter()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603 - our own module
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,  # "done" once its last record is written (see stop)
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - tiny: arms PR_SET_PDEATHSIG
            close_fds=True,
        )

    def stop(self) -> EarlyResult:
        """Stop the child (it finishes the sample it is on) and return what it computed."""
        proc, self._proc = self._proc, None
        if proc is None:
            return EarlyResult([], [])
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"stop\n")
            proc.stdin.flush()  # communicate() below closes it
        except OSError:
            pass  # it has ended already
        # It says "done" once its last record is written and is then killed rather than left to
        # tear its interpreter down (cv2, numpy: ~0.1 s that the faces step waited for, W5).
        # One deadline for both waits: a hung child is killed after STOP_TIMEOUT_S, as before.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        if _said_done(proc, deadline) and proc.poll() is None:
            proc.kill()
        try:
            _, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -9):
            tail = (err or b"").decode(errors="replace")[-2000:]
            log.warning("early sample analysis ended with %s: %s", proc.returncode, tail)
        faces: list[list[list[float]]] = []
        sal: list[dict[str, Any]] = []
        for i, boxes, parts in _records(self.out):
            if i != len(faces):
                break  # records are written in order; anything else is not ours to use
            faces.append(boxes)
            sal.append(parts)
        result = EarlyResult(faces if self.want_faces else [], sal if self.want_saliency else [])
        log.info(
            "early sample analysis: %d samples in %.2f s (rc %s)",
            len(faces),
            time.perf_counter() - self.started,
            proc.returncode,
        )
        return result

    def kill(self) -> None:
        """End the child without reading its results (the analysis failed)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()

    def __del__(self) -> None:  # pragma: no cover - a safety net; callers stop or kill
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()


def _said_done(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Whether the child wrote "done" on its stdout by ``deadline`` (``time.monotonic``; False: it ended or hung)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    while b"done\n" not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        chunk = os.read(fd, 4096)
        if not chunk:
            return False  # it ended without saying so (an error: communicate() reads why)
        seen = seen[-8:] + chunk
    return True


# --------------------------------------------------------------------------- the child


def _stop_requested(stdin_fd: int, timeout: float) -> bool:
    ready, _, _ = select.select([stdin_fd], [], [], timeout)
    return bool(ready)  # "stop", or the parent closed the pipe (it is gone or gave up)


def child_main(argv: list[str]) -> int:
    samples, out, shape, faces_flag, sal_flag, model, threshold, priority, cache = argv
    if priority == "idle" and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
    import cv2

    cv2.setNumThreads(1)  # as the steps run it (video.analysis.cvthreads)
    from video.analysis import modelcache
    from video.analysis.faces import detect_faces, yunet_model_path
    from video.analysis.saliency import sample_parts

    modelcache.set_cache_dir(None if cache == "-" else cache)  # the parent's: no onnx import here

    model_path = str(yunet_model_path(model or None)) if faces_flag == "faces" else ""

    h, w, c = (int(x) for x in shape.split("x"))
    row_bytes = h * w * c
    want_faces, want_sal = faces_flag == "faces", sal_flag == "saliency"
    stdin_fd = sys.stdin.fileno()
    path = Path(samples)
    fd = -1
    i = 0
    prev_gray: np.ndarray | None = None
    buf = np.empty((h, w, c), np.uint8)
    view = buf.reshape(-1).data
    with open(out, "wb") as f:
        while True:
            if fd < 0:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    if _stop_requested(stdin_fd, POLL_S):
                        return 0
                    continue
            if os.fstat(fd).st_size < (i + 1) * row_bytes:
                if _stop_requested(stdin_fd, POLL_S):
                    return 0
                continue
            got = 0
            while got < row_bytes:
                n = os.preadv(fd, [view[got:]], i * row_bytes + got)
                if n <= 0:
                    raise EOFError(f"{path}: row {i} cut short")
                got += n
            boxes = (
                detect_faces(buf[None], [0.0], score_threshold=float(threshold), model=model_path)[0]["boxes"]
                if want_faces
                else []
            )
            parts: dict[str, Any] | None = None
            if want_sal:
                parts, prev_gray = sample_parts(buf, prev_gray, still=True)
            f.write(pickle.dumps((i, boxes, parts), protocol=pickle.HIGHEST_PROTOCOL))
            f.flush()
            i += 1
            if _stop_requested(stdin_fd, 0.0):
                return 0


if __name__ == "__main__":
    rc = child_main(sys.argv[1:])
    sys.stdout.write("done\n")  # every record written and closed: the parent may kill it now
    sys.stdout.flush()
    sys.exit(rc)
