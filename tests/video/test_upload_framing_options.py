"""POST /videos: the reframe option (auto | faces | center | fit, earlier spellings mapped) and the
captions option (default on), stored in the ingest's options; bad values are a 400."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from video.models import VideoIngest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(isolated_media, redis_conn):
    return isolated_media


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _upload(api, path: Path, **fields):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post(
            "/videos", {"file": SimpleUploadedFile("a.mp4", path.read_bytes()), **fields}, format="multipart"
        )


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("auto", "auto"),
        ("faces", "faces"),
        ("center", "center"),
        ("fit", "fit"),
        ("letterbox", "fit"),
        ("face", "faces"),
    ],
)
def test_reframe_option_is_stored_as_the_mode_it_means(api, clip_mp4, given, stored):
    resp = _upload(api, clip_mp4, reframe=given)
    assert resp.status_code == 202, resp.json()
    assert VideoIngest.objects.get(pk=resp.json()["video"]["id"]).options["reframe"] == stored


def test_without_reframe_the_clip_param_decides_and_captions_default_on(api, clip_mp4):
    resp = _upload(api, clip_mp4)
    assert resp.status_code == 202, resp.json()
    options = VideoIngest.objects.get(pk=resp.json()["video"]["id"]).options
    assert "reframe" not in options and options["captions"] is True


def test_captions_can_be_turned_off(api, clip_mp4):
    resp = _upload(api, clip_mp4, captions="false")
    assert resp.status_code == 202, resp.json()
    assert VideoIngest.objects.get(pk=resp.json()["video"]["id"]).options["captions"] is False


@pytest.mark.parametrize("field", [{"reframe": "sideways"}, {"captions": "maybe"}])
def test_bad_values_are_a_400(api, clip_mp4, field):
    resp = _upload(api, clip_mp4, **field)
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"]["code"] and next(iter(field)) in str(body["error"])
    assert VideoIngest.objects.count() == 0
