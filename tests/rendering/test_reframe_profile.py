"""The renderer honours the clip model's reframe param: a profile layer that sets ``center``
moves the rendered crop off the subject; the artist's explicit upload choice still wins."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from fala_clip.media.workspace import workspace_for
from jobs.runner import JobContext
from jobs.services import job_create
from rendering.engine.reframe import crop_geometry, crop_offset, reframe_for_clip
from rendering.models import RenderedVariant
from rendering.services import render_all_variants
from suggestions.engine import ProfileLayer
from suggestions.services import suggestions_compute
from tests.suggestions.engine.synthetic import synthetic_video
from video.models import VideoIngest
from video.services import video_analysis_save

W, H, FPS, DURATION = 640, 360, 30, 24
# the subject: a bright box centred at x = 0.2 of the width (the left third)
BOX = (96, 120, 64, 100)  # x, y, w, h in pixels
SUBJECT_X = (BOX[0] + BOX[2] / 2) / W


def center_layer_provider(*, owner, music, genre):
    """A learning layer whose params ask for a centred crop."""
    return [ProfileLayer("artist", f"artist-{owner.pk}", 2, params={"reframe": "center"})]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "subject-left.mp4"
    x, y, w, h = BOX
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c=black:size={W}x{H}:rate={FPS}:duration={DURATION}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={DURATION}",
         "-vf", f"drawbox=x={x}:y={y}:w={w}:h={h}:color=white:t=fill",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture
def ingest(user, source):
    video = synthetic_video(float(DURATION), fps=float(FPS), seed=5)
    video["meta"].update({"width": W, "height": H, "has_audio": True})
    # the face analyser's output for this source: one box on the subject twice a second
    box = [BOX[0] / W, BOX[1] / H, BOX[2] / W, BOX[3] / H, 0.95]
    video["faces"] = [{"time": i / 2, "boxes": [box]} for i in range(DURATION * 2)]
    analysis = video_analysis_save(owner=user, sha256="d" * 64, result=video)
    return VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256="d" * 64, file="x", analysis=analysis,
        options={"aspect": "9:16", "target_length_s": 15.0, "allow_experimental": False},
    )  # fmt: skip


def _render_top_clip(ingest: VideoIngest, source: Path) -> RenderedVariant:
    clip_models = suggestions_compute(ingest=ingest, video_analysis=ingest.analysis, reuse=False)
    job = job_create(owner=ingest.owner, kind="clip_pipeline", params={"video_id": str(ingest.pk)})
    ws = workspace_for(job.pk).create()
    render_all_variants(
        ctx=JobContext(job), ingest=ingest, analysis=ingest.analysis, clip_models=clip_models[:1],
        source_path=source, workspace=ws,
    )  # fmt: skip
    return RenderedVariant.objects.get(job=job)


def _crop_xs(variant: RenderedVariant) -> list[int]:
    return [int(m) for line in variant.log for m in re.findall(r"crop_x=(\d+)", line)]


def _middle_frame(path: Path) -> np.ndarray:
    """The output's middle frame, grey, 108 x 192."""
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", "7", "-i", str(path), "-frames:v", "1",
         "-vf", "scale=108:192,format=gray", "-f", "rawvideo", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(192, 108)


@pytest.mark.django_db
def test_a_profile_layer_that_sets_center_moves_the_rendered_crop(ingest, source, settings, isolated_media):
    settings.RENDER_PRESET = "ultrafast"
    crop_w, _ = crop_geometry(W, H, 1080, 1920)
    on_subject = crop_offset(SUBJECT_X, W, crop_w)
    centred = crop_offset(0.5, W, crop_w)
    assert on_subject < BOX[0] and on_subject + crop_w > BOX[0] + BOX[2] < centred  # the cases differ

    # Given the baseline profile (reframe = auto): the window follows the subject's face
    base = _render_top_clip(ingest, source)
    assert base.status == RenderedVariant.Status.DONE
    assert base.clip_model.params["reframe"] == "auto"
    assert (base.settings["reframe"], base.settings["reframe_source"], base.settings["mode"]) == (
        "auto",
        "clip",
        "auto",
    )
    assert _crop_xs(base) and set(_crop_xs(base)) == {on_subject}

    # When a learning layer sets reframe = center
    with override_settings(PROFILE_LAYER_PROVIDERS=["tests.rendering.test_reframe_profile.center_layer_provider"]):
        centre = _render_top_clip(ingest, source)

    # Then the clip model carries it and the renderer crops the middle of the frame
    assert centre.clip_model.params["reframe"] == "center"
    assert (centre.settings["reframe"], centre.settings["reframe_source"]) == ("center", "clip")
    assert _crop_xs(centre) and set(_crop_xs(centre)) == {centred}

    # and the pictures differ: the subject fills the middle of the first, the second is black
    from django.core.files.storage import storages

    store = storages["default"]
    with_subject = _middle_frame(Path(store.path(base.file)))
    without = _middle_frame(Path(store.path(centre.file)))
    middle = with_subject[:, 36:72]
    assert middle.mean() > 40 and with_subject.max() > 200
    assert without.max() < 40


def test_the_artist_upload_choice_wins_over_the_clip_and_the_default_is_auto():
    assert reframe_for_clip("fit", {"reframe": "center"}).mode == "fit"
    # the earlier spelling of fit
    assert reframe_for_clip("letterbox", {"reframe": "center"}).mode == "fit"
    assert reframe_for_clip("letterbox", {"reframe": "center"}).render_mode == "fit"
    assert reframe_for_clip(None, {"reframe": "center"}).source == "clip"
    assert reframe_for_clip(None, {"reframe": "saliency"}).mode == "auto"
    assert reframe_for_clip(None, {}).mode == "auto"
    assert reframe_for_clip(None, {}).source == "default"
    # spellings stored by earlier versions keep their meaning
    assert reframe_for_clip("bogus", {"reframe": "face"}).mode == "faces"
    center = reframe_for_clip(None, {"reframe": "center"})
    assert center.faces([{"time": 0.0, "boxes": [[0.1, 0.1, 0.2, 0.2, 0.9]]}]) is None
