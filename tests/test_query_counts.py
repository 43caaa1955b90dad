"""List endpoints run a constant number of queries whatever the page size.

Given N rows of each kind (each with the related rows the serializers show:
jobs, analyses, clip models), when a list endpoint is read with 1 row and with
25 rows, then both reads run exactly the same number of SQL queries.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import Job, JobStatus
from music.models import MusicAnalysis, MusicAsset
from rendering.models import RenderedVariant
from suggestions.models import ClipModel, SuggestionSet
from video.models import VideoAnalysis, VideoIngest

pytestmark = pytest.mark.django_db

ROWS = 25


def _count(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def _track(user, i: int, *, analysed: bool) -> MusicAsset:
    asset = MusicAsset.objects.create(
        owner=user, artist=user.artist, title=f"t{i}", sha256=f"{i:064d}", file=f"m/{i}", size_bytes=1,
        format="wav", duration=10.0,
    )  # fmt: skip
    Job.objects.create(kind="music_analysis", owner=user, music_asset=asset, status=JobStatus.QUEUED)
    if analysed:
        MusicAnalysis.objects.create(asset=asset, duration=10.0)
    return asset


def _video(user, i: int, analysis: VideoAnalysis) -> VideoIngest:
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256=f"{i:064d}", file=f"v/{i}", analysis=analysis
    )
    Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest, status=JobStatus.DONE, stage="done")
    return ingest


@pytest.fixture
def video_analysis(user) -> VideoAnalysis:
    return VideoAnalysis.objects.create(owner=user, sha256="a" * 64)


def test_music_list_runs_the_same_queries_for_1_and_25_rows(api, user):
    for i in range(ROWS):
        _track(user, i, analysed=i % 2 == 0)
    one = _count(lambda: api.get("/music?page_size=1"))
    body = api.get(f"/music?page_size={ROWS}").json()
    many = _count(lambda: api.get(f"/music?page_size={ROWS}"))
    assert len(body["results"]) == ROWS
    assert one == many
    # what the rows say is still right: analysed tracks are done, the others show their job
    done = [r for r in body["results"] if r["analysis_status"] == "done"]
    queued = [r for r in body["results"] if r["analysis_status"] == "queued"]
    assert (len(done), len(queued)) == (13, 12)
    assert all(r["job_id"] for r in body["results"])
    jobs = {str(j.music_asset_id): str(j.pk) for j in Job.objects.filter(kind="music_analysis")}
    assert {r["id"]: r["job_id"] for r in body["results"]} == jobs


def test_video_list_runs_the_same_queries_for_1_and_25_rows(api, user, video_analysis):
    for i in range(ROWS):
        _video(user, i, video_analysis)
    one = _count(lambda: api.get("/videos?page_size=1"))
    body = api.get(f"/videos?page_size={ROWS}").json()
    many = _count(lambda: api.get(f"/videos?page_size={ROWS}"))
    assert len(body["results"]) == ROWS
    assert one == many
    jobs = {str(j.video_ingest_id): str(j.pk) for j in Job.objects.filter(kind="clip_pipeline")}
    assert {r["id"]: r["job"]["id"] for r in body["results"]} == jobs
    assert {r["job"]["status"] for r in body["results"]} == {"done"}


def test_video_list_shows_the_latest_job_of_a_video(api, user, video_analysis):
    ingest = _video(user, 0, video_analysis)
    newer = Job.objects.create(kind="clip_pipeline", owner=user, video_ingest=ingest, status=JobStatus.QUEUED)
    (row,) = api.get("/videos").json()["results"]
    assert row["job"] == {"id": str(newer.pk), "status": "queued", "stage": "", "progress": {}}


def test_job_list_runs_the_same_queries_for_1_and_25_rows(api, user):
    for i in range(ROWS):
        Job.objects.create(kind="clip_pipeline", owner=user, result={"video_url": f"/videos/{i}"})
    one = _count(lambda: api.get("/jobs?page_size=1"))
    many = _count(lambda: api.get(f"/jobs?page_size={ROWS}"))
    assert len(api.get(f"/jobs?page_size={ROWS}").json()["results"]) == ROWS
    assert one == many


def _suggestions(ingest: VideoIngest, job: Job | None, n: int) -> SuggestionSet:
    sset = SuggestionSet.objects.create(ingest=ingest, job=job, features_version="t")
    for rank in range(1, n + 1):
        ClipModel.objects.create(
            suggestion_set=sset, ingest=ingest, template="highlight", rank=rank, start=rank * 6.0, end=rank * 6.0 + 5,
            duration=5.0, score=1.0,
        )  # fmt: skip
    return sset


def test_renders_list_runs_the_same_queries_for_1_and_25_rows(api, user, video_analysis):
    counts = []
    for n in (1, ROWS):
        ingest = _video(user, n, video_analysis)
        job = ingest.jobs.get()
        sset = _suggestions(ingest, job, n)
        for index, clip in enumerate(sset.clip_models.order_by("rank"), start=1):
            RenderedVariant.objects.create(
                ingest=ingest, job=job, clip_model=clip, index=index, status="done", file=f"r/{n}/{index}"
            )
        assert len(api.get(f"/videos/{ingest.pk}/renders").json()["results"]) == n
        counts.append(_count(lambda ingest=ingest: api.get(f"/videos/{ingest.pk}/renders")))
    assert counts[0] == counts[1]


def test_suggestions_detail_runs_the_same_queries_for_1_and_25_clip_models(api, user, video_analysis):
    counts = []
    for n in (1, ROWS):
        ingest = _video(user, n, video_analysis)
        _suggestions(ingest, None, n)
        assert len(api.get(f"/videos/{ingest.pk}/suggestions").json()["clip_models"]) == n
        counts.append(_count(lambda ingest=ingest: api.get(f"/videos/{ingest.pk}/suggestions")))
    assert counts[0] == counts[1]
