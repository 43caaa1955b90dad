"""YuNet in onnxruntime gives OpenCV FaceDetectorYN's rows: same faces, same boxes within float rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media_factory import astronaut_path
from video.analysis.faces import FACE_PARAMS, yunet_model_path
from video.analysis.yunet import YuNet


def _scenes(w: int, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` frames of ``w`` x ``h``: the astronaut photo at a random size and place on noise (and one without)."""
    import cv2

    path = astronaut_path()
    if path is None:
        pytest.skip("scikit-image is not installed: its astronaut photo is the real face these tests need")
    photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    frames = (rng.random((n, h, w, 3)) * 60).astype(np.uint8)
    for frame in frames[1:]:  # frame 0 stays faceless
        side = max(8, int(rng.uniform(0.3, 1.1) * min(w, h)))
        img = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        y0, x0 = int(rng.integers(0, max(1, h - side))), int(rng.integers(0, max(1, w - side)))
        img = img[: h - y0, : w - x0]
        frame[y0 : y0 + img.shape[0], x0 : x0 + img.shape[1]] = img
    return frames


@pytest.mark.parametrize("size", [(224, 126), (126, 224), (224, 224), (99, 177), (896, 504)])
@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_rows_equal_opencv_face_detector(size, threshold):
    import cv2

    w, h = size
    frames = _scenes(w, h, 6, np.random.default_rng(w * 1000 + h))
    model = str(yunet_model_path())
    ref = cv2.FaceDetectorYN.create(model, "", (w, h), threshold, FACE_PARAMS["nms_threshold"], FACE_PARAMS["top_k"])
    ours = YuNet(model)
    kw = {"score_threshold": threshold, "nms_threshold": FACE_PARAMS["nms_threshold"], "top_k": FACE_PARAMS["top_k"]}
    batched = ours.detect(frames, **kw)
    one_by_one = [ours.detect(f[None], **kw)[0] for f in frames]
    bgr = ours.detect(np.ascontiguousarray(frames[..., ::-1]), rgb=False, **kw)
    faces = 0
    for i, frame in enumerate(frames):
        _, want = ref.detect(np.ascontiguousarray(frame[..., ::-1]))
        want = np.zeros((0, 15), np.float32) if want is None else want
        for got in (batched[i], one_by_one[i], bgr[i]):
            assert got.shape == want.shape, (size, i, got[:, [0, 1, 2, 3, 14]], want[:, [0, 1, 2, 3, 14]])
            np.testing.assert_allclose(got, want, atol=1e-3)
        faces += len(want)
    assert len(batched[0]) == 0  # the faceless frame
    if min(w, h) >= 126:
        assert faces >= 4  # the photo's face is found in most frames: the comparison is not vacuous


def test_input_is_checked():
    ours = YuNet(str(yunet_model_path()))
    kw = {"score_threshold": 0.5, "nms_threshold": 0.3, "top_k": 50}
    assert ours.detect(np.zeros((0, 32, 32, 3), np.uint8), **kw) == []
    with pytest.raises(ValueError, match="N, H, W, 3"):
        ours.detect(np.zeros((32, 32, 3), np.uint8), **kw)


def test_free_size_copy_is_cached(tmp_path):
    """The rewritten model is made once into the cache (a run reads it), in memory where it cannot be written."""
    from video.analysis.yunet import free_size_model

    src = yunet_model_path()
    made = free_size_model(src, tmp_path)
    assert isinstance(made, str) and made.startswith(str(tmp_path)) and made.endswith(".onnx")
    stamp = (tmp_path / made.rsplit("/", 1)[1]).stat().st_mtime_ns
    assert free_size_model(src, tmp_path) == made
    assert (tmp_path / made.rsplit("/", 1)[1]).stat().st_mtime_ns == stamp
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    data = free_size_model(src, blocked / "models")
    assert isinstance(data, bytes) and data == Path(made).read_bytes()
    kw = {"score_threshold": 0.5, "nms_threshold": 0.3, "top_k": 50}
    frames = np.zeros((2, 70, 90, 3), np.uint8)
    assert [len(r) for r in YuNet(src, cache_dir=blocked / "models").detect(frames, **kw)] == [0, 0]
