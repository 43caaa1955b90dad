"""Saliency on generated samples with known content (tests/framing_media.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.framing_media import FIG_W, Scene
from video.analysis.saliency import compute_saliency, text_boxes

W = 640


def _centre(box):
    return (box[0] + box[2]) / 2


def _truth_x(scene: Scene, t: float) -> list[float]:
    return [(b[0] + b[2]) / 2 / W for b in scene.boxes(t)]


def test_moving_subject_is_tracked_on_a_textured_background():
    scene = Scene("moving")
    frames, times = scene.samples()
    sal = compute_saliency(frames, times)
    assert len(sal["samples"]) == len(times) and sal["frame"] == [224, 126]
    errors = []
    for rec in sal["samples"]:
        assert rec["subject"] is not None, rec
        errors.append(abs(_centre(rec["subject"]) - _truth_x(scene, rec["t"])[0]))
    # the figure is 10 % of the width: the subject centre lands on it in every sample
    assert max(errors) < 0.05, errors


def test_off_centre_subject():
    scene = Scene("offcentre")
    sal = compute_saliency(*scene.samples())
    for rec in sal["samples"]:
        assert abs(_centre(rec["subject"]) - _truth_x(scene, rec["t"])[0]) < 0.05


def test_two_subjects_at_the_edges_span_the_extent():
    scene = Scene("edges")
    sal = compute_saliency(*scene.samples())
    for rec in sal["samples"]:
        left, right = _truth_x(scene, rec["t"])
        ext = rec["extent"]
        # both figures inside the extent: it is wider than any 9:16 window (31.6 % of a 16:9 width)
        assert ext[0] <= left - FIG_W / 2 / W + 0.03 and ext[2] >= right + FIG_W / 2 / W - 0.03, rec
        assert ext[2] - ext[0] > 0.7


def test_banner_text_is_found_whole():
    scene = Scene("banner")
    sal = compute_saliency(*scene.samples())
    x0, _, x1, _ = scene.boxes(0)[0]
    for rec in sal["samples"]:
        assert rec["text"], rec
        widest = rec["text"][0]
        assert widest[0] <= x0 / W + 0.02 and widest[2] >= x1 / W - 0.02, (widest, x0 / W, x1 / W)
        assert rec["extent"][2] - rec["extent"][0] >= (x1 - x0) / W - 0.02


def test_no_text_on_texture_or_figures():
    import cv2

    for kind in ("moving", "edges", "offcentre", "face"):
        frames, _ = Scene(kind).samples()
        for f in frames[::3]:
            assert text_boxes(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) == [], kind


def test_bare_texture_has_no_subject_and_tracking_resets_at_cuts():
    scene = Scene("late")
    frames, times = scene.samples()
    sal = compute_saliency(frames, times, shots=[{"start": 0.0, "end": 1.0}, {"start": 1.0, "end": 4.0}])
    assert [r["shot"] for r in sal["samples"]] == [0 if t < 1.0 else 1 for t in times]
    for rec in sal["samples"]:
        if rec["t"] < 1.9:  # before the figure enters: a diffuse map, no subject
            assert rec["subject"] is None and rec["conf"] == 0.0, rec
        elif rec["t"] > 2.3:
            assert abs(_centre(rec["subject"]) - _truth_x(scene, rec["t"])[0]) < 0.05
        # the first sample of a shot has no predecessor: no motion
    first_of_shot = [r for r in sal["samples"] if r["t"] >= 1.0][0]
    assert first_of_shot["motion"] == 0.0


def test_empty_input():
    sal = compute_saliency(np.zeros((0, 126, 224, 3), np.uint8), [])
    assert sal["samples"] == []


@pytest.mark.parametrize("kind", ["face"])
def test_real_face_photo_is_the_subject(kind):
    scene = Scene(kind)
    sal = compute_saliency(*scene.samples())
    for rec in sal["samples"]:
        s = rec["subject"]
        fx = _truth_x(scene, rec["t"])[0]
        assert s[0] - 0.02 <= fx <= s[2] + 0.02, (rec["t"], s, fx)
