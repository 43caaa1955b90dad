"""A video analysis is reused per owner and content only at the current analyser version: an analysis
stored by an older version (no saliency, blanks, transcript) is recomputed when its file comes back."""

from __future__ import annotations

import pytest

from fala_clip.pipeline import step_analyze_video
from jobs.models import Job
from jobs.runner import JobContext
from tests import media_factory as mf
from video.analysis.contracts import PIPELINE_VERSION
from video.models import VideoAnalysis, VideoIngest

pytestmark = pytest.mark.django_db

SHA = "c" * 64


def test_an_older_analysis_is_recomputed_then_the_current_one_reused(user, tmp_path):
    path = mf.testsrc_video(tmp_path / "v.mp4", size="320x180", rate=25, duration=3, tone=440)
    old = VideoAnalysis.objects.create(owner=user, sha256=SHA, pipeline_version="1", meta={"duration": 3.0})
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256=SHA, file="videos/x/original.mp4", duration=3.0
    )
    job = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest)

    first = step_analyze_video(JobContext(job), ingest, path)
    assert first.pk == old.pk and first.pipeline_version == PIPELINE_VERSION  # the same row, recomputed
    assert first.saliency.get("samples") and first.meta["duration"] == pytest.approx(3.0, abs=0.1)
    ingest.refresh_from_db()
    assert ingest.analysis_id == old.pk and ingest.analysis_reused is False

    again = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256=SHA, file="videos/y/original.mp4", duration=3.0
    )
    second = step_analyze_video(JobContext(Job.objects.create(kind="clip_pipeline", owner=user)), again, path)
    again.refresh_from_db()
    assert second.pk == old.pk and again.analysis_reused is True
    assert VideoAnalysis.objects.filter(owner=user, sha256=SHA).count() == 1


def test_on_decoded_is_called_once_when_the_decode_has_ended(user, tmp_path):
    # the clip pipeline lets a deferred background music analysis start at that moment
    path = mf.testsrc_video(tmp_path / "v.mp4", size="320x180", rate=25, duration=3, tone=440)
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256="d" * 64, file="videos/z/original.mp4", duration=3.0
    )
    job = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest)
    stages: list[str] = []

    def on_decoded() -> None:
        job.refresh_from_db()
        stages.append(job.stage)

    step_analyze_video(JobContext(job), ingest, path, on_decoded=on_decoded)
    assert stages == ["decode"]  # once, right after the decode step (before the next step is shown)
