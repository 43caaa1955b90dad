"""YuNet face detection run by onnxruntime, with OpenCV ``FaceDetectorYN``'s exact pre- and post-processing.

OpenCV's ``FaceDetectorYN`` (``modules/objdetect/src/face_detect.cpp``) pads the image bottom/right
with zeros to a multiple of 32, feeds it as a BGR float blob (no scaling, no mean) to the network
through OpenCV's own DNN engine, then decodes the three strides' outputs and keeps the boxes that
``cv2.dnn.NMSBoxes`` keeps.  :class:`YuNet` does the same around onnxruntime, which runs the same
ONNX file about twice as fast on one thread (W5's 600 224x126 samples 1.45 -> 0.6 CPU-s, an
upscaled 896x504 probe 32 -> 16 ms) and takes several frames of one size per call.  The rows equal
``FaceDetectorYN.detect``'s within float rounding (test: same faces, coordinates within 1e-4 px).

The shipped file declares a fixed 1x3x640x640 input; its reshapes are ``[1, -1, k]`` and its
resizes scale-based, so the input's batch, height and width are made symbolic (:func:`free_size_model`,
a copy kept in the model cache: making it imports ``onnx``, 1.1 CPU-s, which a run then does not).
A batch of N frames comes out as ``(1, N*rows*cols, k)``, frame-major.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from video.analysis.modelcache import OrtSessions, cached_model

__all__ = ["YuNet", "DIVISOR", "STRIDES", "free_size_model"]

DIVISOR = 32
STRIDES = (8, 16, 32)
_OUTPUTS = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]
#: Bumped when :func:`_write_free_size` changes what it writes.
FREE_SIZE_FORMAT = 1


def free_size_model(path: str | Path, cache_dir: str | Path | None = None) -> str | bytes:
    """``path``'s YuNet with a symbolic batch, height and width: the cached copy's path (made when
    missing), or its bytes where the cache cannot be written."""
    digest = hashlib.sha256(Path(path).read_bytes() + f"free-size-{FREE_SIZE_FORMAT}".encode()).hexdigest()[:16]
    return cached_model(f"yunet-free-size-{digest}.onnx", lambda fh: _write_free_size(path, fh), cache_dir)


def _write_free_size(path: str | Path, dest: BinaryIO) -> None:
    import onnx

    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"{path}: expected a 4-d NCHW input, got {len(dims)} dims")
    for d, name in zip(dims, ("n", "c", "h", "w"), strict=True):
        if name != "c":
            d.ClearField("dim_value")
            d.dim_param = name
    for out in model.graph.output:
        odims = out.type.tensor_type.shape.dim
        if len(odims) > 1:
            odims[1].ClearField("dim_value")
            odims[1].dim_param = f"anchors_{out.name}"
    del model.graph.value_info[:]  # shapes inferred for 640x640
    dest.write(model.SerializeToString())


class YuNet:
    """One YuNet network in onnxruntime; :meth:`detect` returns ``FaceDetectorYN.detect``'s rows per frame."""

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None) -> None:
        self.path = str(path)
        self._sessions = OrtSessions(free_size_model(path, cache_dir))

    def detect(
        self,
        frames: np.ndarray,
        *,
        score_threshold: float,
        nms_threshold: float,
        top_k: int,
        rgb: bool = True,
        threads: int = 1,
    ) -> list[np.ndarray]:
        """Rows ``(k, 15)`` float32 per frame of ``frames`` (N, H, W, 3) uint8, as ``FaceDetectorYN.detect``.

        A row: top-left x, y, width, height (px of the frame), five landmarks (x, y), score.
        """
        import cv2

        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[3] != 3:
            raise ValueError(f"expected (N, H, W, 3) frames, got {frames.shape}")
        n, h, w = frames.shape[:3]
        if n == 0:
            return []
        ph, pw = ((h - 1) // DIVISOR + 1) * DIVISOR, ((w - 1) // DIVISOR + 1) * DIVISOR
        blob = np.zeros((n, 3, ph, pw), np.float32)
        blob[:, :, :h, :w] = (frames[..., ::-1] if rgb else frames).transpose(0, 3, 1, 2)  # BGR planes
        outs = dict(zip(_OUTPUTS, self._sessions.get(threads).run(_OUTPUTS, {"input": blob}), strict=True))
        thr = np.float32(score_threshold)
        per_stride = []
        for s in STRIDES:
            rows, cols = ph // s, pw // s
            k = rows * cols
            per_stride.append(
                (
                    s,
                    cols,
                    outs[f"cls_{s}"].reshape(n, k),
                    outs[f"obj_{s}"].reshape(n, k),
                    outs[f"bbox_{s}"].reshape(n, k, 4),
                    outs[f"kps_{s}"].reshape(n, k, 10),
                )
            )
        result = []
        for b in range(n):
            found = []
            for s, cols, cls, obj, bbox, kps in per_stride:
                score = np.sqrt(np.clip(cls[b], 0, 1) * np.clip(obj[b], 0, 1)).astype(np.float32)
                idx = np.flatnonzero(~(score < thr))
                if not idx.size:
                    continue
                c = (idx % cols).astype(np.float32)
                r = (idx // cols).astype(np.float32)
                st = np.float32(s)
                bb, kp = bbox[b, idx], kps[b, idx]
                bw, bh = np.exp(bb[:, 2]) * st, np.exp(bb[:, 3]) * st
                face = np.empty((idx.size, 15), np.float32)
                face[:, 0] = (c + bb[:, 0]) * st - bw / np.float32(2)
                face[:, 1] = (r + bb[:, 1]) * st - bh / np.float32(2)
                face[:, 2], face[:, 3] = bw, bh
                face[:, 4:14:2] = (kp[:, 0::2] + c[:, None]) * st
                face[:, 5:14:2] = (kp[:, 1::2] + r[:, None]) * st
                face[:, 14] = score[idx]
                found.append(face)
            faces = np.concatenate(found) if found else np.zeros((0, 15), np.float32)
            if len(faces) > 1:
                # OpenCV's NMS on the boxes truncated to integers, as FaceDetectorYN does
                boxes = faces[:, :4].astype(np.int32).tolist()
                keep = cv2.dnn.NMSBoxes(
                    boxes, faces[:, 14].tolist(), float(score_threshold), float(nms_threshold), 1.0, int(top_k)
                )
                faces = faces[np.asarray(keep, np.int64).reshape(-1)]
            result.append(faces)
        return result
