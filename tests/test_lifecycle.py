"""Data lifecycle: DELETE /videos/{id} and /music/{id}, retention (purge_media) and the orphan scan.

Files are checked where they really are: on disk under MEDIA_ROOT, or in the bucket of moto's S3
server on 127.0.0.1 (``tests/test_storage_s3.py``'s fixtures).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from fala_clip.storage import storage_key, store_file
from jobs.models import Job, JobStatus
from tests import media_factory as mf
from tests.test_storage_s3 import s3_server, s3_storage  # noqa: F401  (fixtures)

UNFINISHED = [JobStatus.QUEUED, JobStatus.ANALYZING, JobStatus.RENDERING]


# --------------------------------------------------------------------------- storage backends


class Backend:
    """Lists what the storage backend really holds: the files under MEDIA_ROOT, or the bucket's keys."""

    def __init__(self, kind: str, *, media_root: str = "", client=None):
        self.kind = kind
        self.media_root = media_root
        self.client = client

    def names(self) -> set[str]:
        if self.kind == "fs":
            root = Path(self.media_root)
            return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
        listed = self.client.list_objects_v2(Bucket=self.client.bucket)
        return {o["Key"] for o in listed.get("Contents", [])}


@pytest.fixture(params=["fs", "s3"])
def backend(request, isolated_media, settings):
    if request.param == "fs":
        return Backend("fs", media_root=settings.MEDIA_ROOT)
    return Backend("s3", client=request.getfixturevalue("s3_storage"))


@pytest.fixture
def fs_backend(isolated_media, settings):
    return Backend("fs", media_root=settings.MEDIA_ROOT)


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)
    return path


def _store(small_file: Path, *parts) -> str:
    return store_file(small_file, storage_key(*parts))


# --------------------------------------------------------------------------- worlds


def make_track(user, small_file: Path, *, sha: str = "a" * 64, analysed: bool = True):
    from music.models import MusicAnalysis, MusicAsset, MusicBeat, MusicEmbedding

    asset = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="song", sha256=sha, file="", size_bytes=1000, format="wav", duration=3
    )
    asset.file = _store(small_file, "music", user.pk, asset.pk, "original.wav")
    asset.save(update_fields=["file"])
    if analysed:
        analysis = MusicAnalysis.objects.create(asset=asset, duration=3.0)
        MusicBeat.objects.create(analysis=analysis, index=0, time=0.5, bar_position=1, is_downbeat=True)
        MusicEmbedding.objects.create(asset=asset, kind="audio", model="m", dim=1, vector=[0.0])
    return asset


def make_job(user, *, status: str = JobStatus.DONE, video=None, music=None, kind: str = "clip_pipeline") -> Job:
    from jobs.services import job_create

    job = job_create(owner=user, kind=kind, params={})
    Job.objects.filter(pk=job.pk).update(status=status, video_ingest=video, music_asset=music)
    job.refresh_from_db()
    return job


def make_video(user, small_file: Path, *, sha: str = "b" * 64, music=None, job_status: str = JobStatus.DONE):
    """A video with everything a finished pipeline leaves: original, analysis, suggestions, a render
    with its caption sidecars, a clip preview, and its (finished) job."""
    from rendering.models import ClipPreview, RenderedVariant
    from suggestions.services import suggestions_recompute
    from tests.suggestions.engine.synthetic import synthetic_video
    from video.models import VideoIngest
    from video.services import video_analysis_save

    analysis = video_analysis_save(
        owner=user, sha256=sha, result=synthetic_video(60.0, fps=25.0, seed=1, peaks=[(20.0, 8.0, {"motion": 1})])
    )
    video = VideoIngest.objects.create(
        owner=user,
        artist=user.artist,
        source=VideoIngest.Source.UPLOAD,
        sha256=sha,
        size_bytes=1000,
        duration=60,
        analysis=analysis,
        music=music,
        options={"target_length_s": 15.0, "allow_experimental": False},
    )
    video.file = _store(small_file, "videos", user.pk, video.pk, "original.mp4")
    video.save(update_fields=["file"])
    job = make_job(user, status=job_status, video=video, music=music)
    clip = suggestions_recompute(ingest=video).clip_models.order_by("rank").first()
    base = ("renders", user.pk, job.pk)
    render = RenderedVariant.objects.create(
        ingest=video,
        job=job,
        clip_model=clip,
        index=1,
        status=RenderedVariant.Status.DONE,
        file=_store(small_file, *base, "variant-1-highlight.mp4"),
        captions={
            "enabled": True,
            "srt": _store(small_file, *base, "variant-1-highlight.srt"),
            "vtt": _store(small_file, *base, "variant-1-highlight.vtt"),
        },
        size_bytes=1000,
        finished_at=timezone.now(),
    )
    preview_base = ("previews", user.pk, video.pk, f"clip-{clip.pk}")
    ClipPreview.objects.create(
        clip_model=clip,
        contact_sheet=_store(small_file, *preview_base, "contact-sheet.jpg"),
        video=_store(small_file, *preview_base, "preview.mp4"),
    )
    return video, job, render


def video_names(user, video, job) -> set[str]:
    return {
        n
        for n in (
            video.file,
            *[f"renders/{user.pk}/{job.pk}/variant-1-highlight.{ext}" for ext in ("mp4", "srt", "vtt")],
        )
    } | {
        f"previews/{user.pk}/{video.pk}/clip-{c}/{f}"
        for c in _clip_ids(video)
        for f in ("contact-sheet.jpg", "preview.mp4")
    }


def _clip_ids(video) -> list[int]:
    from rendering.models import ClipPreview

    return list(ClipPreview.objects.filter(clip_model__ingest=video).values_list("clip_model_id", flat=True))


# --------------------------------------------------------------------------- DELETE /videos/{id}


@pytest.mark.django_db
def test_owner_deletes_a_video_and_every_stored_file_made_from_it(
    api, user, backend, small_file, django_capture_on_commit_callbacks
):
    from learning.usage import record_llm_usage
    from music.models import DeletionAudit
    from rendering.models import ClipPreview, RenderedVariant
    from suggestions.models import ClipModel, SuggestionSet
    from video.models import VideoAnalysis, VideoIngest

    # Given: a finished video with renders, sidecars and previews, and another video that stays
    video, job, render = make_video(user, small_file)
    doomed = video_names(user, video, job)
    other, other_job, _ = make_video(user, small_file, sha="c" * 64)
    kept = video_names(user, other, other_job)
    usage = record_llm_usage(model="gpt-4o-mini", status="ok", user=user, job=job, input_tokens=10)
    assert backend.names() == doomed | kept and len(doomed) == 6

    # When: its owner deletes it
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/videos/{video.pk}")

    # Then: 204; every file of that video is gone, the other video's are all there
    assert response.status_code == 204, response.content
    assert backend.names() == kept
    # the rows made from it are gone; the analysis too (no other video uses it)
    assert not VideoIngest.objects.filter(pk=video.pk).exists()
    assert not RenderedVariant.objects.filter(pk=render.pk).exists()
    assert not SuggestionSet.objects.filter(ingest_id=video.pk).exists()
    assert not ClipModel.objects.filter(ingest_id=video.pk).exists()
    assert not ClipPreview.objects.filter(clip_model__ingest_id=video.pk).exists()
    assert not VideoAnalysis.objects.filter(owner=user, sha256="b" * 64).exists()
    # the job stays for the history, unlinked; its LLM usage row is untouched
    job.refresh_from_db()
    assert (job.status, job.video_ingest_id) == (JobStatus.DONE, None)
    usage.refresh_from_db()
    assert usage.job_id == job.pk
    # 404 afterwards, gone from the list; the usage endpoint still answers
    assert api.get(f"/videos/{video.pk}").status_code == 404
    assert [v["id"] for v in api.get("/videos").json()["results"]] == [str(other.pk)]
    assert api.get(f"/jobs/{job.pk}").status_code == 200
    assert api.get("/usage").status_code == 200
    assert api.delete(f"/videos/{video.pk}").status_code == 404
    # the audit row says who, what and what was removed
    audit = DeletionAudit.objects.get()
    assert (audit.user_id, audit.username, audit.kind, audit.object_id) == (user.pk, "alice", "video", video.pk)
    assert (audit.sha256, audit.size_bytes, audit.files_count, audit.files_bytes) == ("b" * 64, 1000, 6, 6000)
    assert set(audit.files) == doomed
    assert audit.details == {"jobs_kept": 1, "renders": 1, "suggestion_sets": 1, "analysis_deleted": True}


@pytest.mark.django_db
def test_deleting_a_video_keeps_an_analysis_another_video_still_uses(api, user, fs_backend, small_file):
    from video.models import VideoIngest

    video, _, _ = make_video(user, small_file)
    twin = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256=video.sha256, analysis=video.analysis
    )
    assert api.delete(f"/videos/{video.pk}").status_code == 204
    twin.refresh_from_db()
    assert twin.analysis is not None  # the same file under other options still has its analysis


@pytest.mark.django_db
def test_another_artist_or_anonymous_cannot_delete_and_nothing_changes(
    api, anon_api, user, make_artist, fs_backend, small_file
):
    from music.models import DeletionAudit, MusicAsset
    from video.models import VideoIngest

    # Given: bob's video and track
    bob = make_artist("bob")[0]
    video, _, _ = make_video(bob, small_file)
    track = make_track(bob, small_file)
    before = fs_backend.names()

    # When / then: alice gets 404, an anonymous client 401, in the project's JSON shape
    for path in (f"/videos/{video.pk}", f"/music/{track.pk}"):
        response = api.delete(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.content
        assert anon_api.delete(path).status_code == 401
    assert fs_backend.names() == before
    assert VideoIngest.objects.filter(pk=video.pk).exists()
    assert MusicAsset.objects.get(pk=track.pk).deleted_at is None
    assert not DeletionAudit.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", UNFINISHED)
def test_a_video_whose_job_is_unfinished_cannot_be_deleted(api, user, fs_backend, small_file, status):
    from music.models import DeletionAudit
    from video.models import VideoIngest

    video, job, _ = make_video(user, small_file, job_status=status)
    before = fs_backend.names()

    response = api.delete(f"/videos/{video.pk}")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "in_use",
        "message": "The video is used by a job that has not finished; delete it once the job is done or failed.",
        "details": {"jobs": [str(job.pk)]},
    }
    assert fs_backend.names() == before
    assert VideoIngest.objects.filter(pk=video.pk, analysis__isnull=False).exists()
    assert not DeletionAudit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_created_while_the_video_is_deleted_never_commits(user, fs_backend, small_file):
    """The race: a job for the video is being created (its transaction not yet committed) while the
    owner deletes the video.  The delete cannot see it and goes through; the job's transaction then
    fails on the foreign key (Django's are checked at commit), so no job row exists and nothing was
    enqueued (enqueueing happens on commit): no job ever works on the deleted files."""
    from django.db import IntegrityError, transaction

    from video.services import video_delete

    video, _, _ = make_video(user, small_file)
    inserted, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def create_job() -> None:
        try:
            with transaction.atomic():
                outcome["job"] = make_job(user, status=JobStatus.QUEUED, video=video).pk
                inserted.set()
                release.wait(60)
        except IntegrityError as exc:
            outcome["refused"] = exc.__cause__.diag.constraint_name if exc.__cause__ else str(exc)
        finally:
            connection.close()

    creator = threading.Thread(target=create_job)
    creator.start()
    assert inserted.wait(60)

    audit = video_delete(owner=user, video_id=video.pk)  # does not wait for the uncommitted job
    release.set()
    creator.join(60)

    assert audit.files_count == 6
    assert outcome["refused"].startswith("jobs_video_ingest_id_")
    assert not Job.objects.filter(pk=outcome["job"]).exists()
    assert fs_backend.names() == set()


@pytest.mark.django_db
def test_a_job_that_meets_a_deleted_track_fails_clearly(user, small_file, tmp_path):
    """The same race for a track (its row stays as a tombstone, so such a job does commit): the job
    reading it fails with ``music_gone`` instead of reading a deleted file."""
    from fala_clip.media.workspace import workspace_for
    from jobs.errors import JobError
    from music.jobs import music_local_copy
    from music.services import music_delete

    track = make_track(user, small_file)
    music_delete(owner=user, music_id=track.pk)
    track.refresh_from_db()

    job = make_job(user, kind="music_analysis", status=JobStatus.ANALYZING)
    ctx = SimpleNamespace(job=job)

    with pytest.raises(JobError) as raised:
        music_local_copy(ctx, track, workspace_for(job.pk))  # type: ignore[arg-type]
    assert raised.value.code == "music_gone"


# --------------------------------------------------------------------------- DELETE /music/{id}


@pytest.mark.django_db
def test_owner_deletes_a_track_and_a_re_upload_is_analysed_again(
    api, user, backend, small_file, tmp_path, redis_conn, django_capture_on_commit_callbacks
):
    from learning.models import LearningCenter, MusicFeedback
    from learning.services import center_create
    from learning.usage import record_llm_usage
    from music.models import DeletionAudit, MusicAnalysis, MusicAsset, MusicBeat, MusicEmbedding

    # Given: an analysed track with feedback, a track center, LLM usage, and a finished video that used it
    wav = mf.sine_audio(tmp_path / "song.wav", duration=2)
    from fala_clip.media.uploads import file_sha256

    track = make_track(user, small_file, sha=file_sha256(wav))
    music_job = make_job(user, kind="music_analysis", music=track)
    video, video_job, _ = make_video(user, small_file, music=track)
    feedback = MusicFeedback.objects.create(owner=user, music=track, text="more motion")
    center = center_create(scope="track", music=track, actor=user, owner=user, weights={"motion": 1.5})
    usage = record_llm_usage(model="gpt-4o-mini", status="ok", user=user, music=track, input_tokens=10)
    video_files = backend.names() - {track.file}

    # When: its owner deletes it
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/music/{track.pk}")

    # Then: 204; the original is gone, the video's files are not
    assert response.status_code == 204, response.content
    assert backend.names() == video_files
    # the row is a tombstone (feedback and learning history point at it); its analysis is gone
    track.refresh_from_db()
    assert track.deleted_at is not None and track.file == ""
    assert not MusicAnalysis.objects.filter(asset=track).exists()
    assert not MusicBeat.objects.filter(analysis__asset=track).exists()
    assert not MusicEmbedding.objects.filter(asset=track).exists()
    assert (
        MusicFeedback.objects.filter(pk=feedback.pk).exists() and LearningCenter.objects.filter(pk=center.pk).exists()
    )
    # jobs kept and unlinked; the video loses its link; the LLM usage row still names the track
    assert set(Job.objects.filter(pk__in=[music_job.pk, video_job.pk]).values_list("music_asset", flat=True)) == {None}
    video.refresh_from_db()
    assert video.music_id is None
    usage.refresh_from_db()
    assert usage.music_id == track.pk
    assert api.get("/usage").status_code == 200
    # 404 everywhere, out of the list; a video naming it is refused
    assert api.get(f"/music/{track.pk}").status_code == 404
    assert api.get(f"/music/{track.pk}/analysis").status_code == 404
    assert api.get("/music").json()["results"] == []
    assert api.delete(f"/music/{track.pk}").status_code == 404
    audit = DeletionAudit.objects.get()
    assert (audit.kind, audit.object_id, audit.sha256, audit.size_bytes) == ("music", track.pk, track.sha256, 1000)
    assert (audit.files_count, audit.files_bytes, audit.files) == (
        1,
        1000,
        [f"music/{user.pk}/{track.pk}/original.wav"],
    )
    assert audit.details == {"jobs_unlinked": 2, "videos_unlinked": 1, "row": "tombstone"}

    # When: the same file is uploaded again
    with django_capture_on_commit_callbacks(execute=True), wav.open("rb") as fh:
        again = api.post("/music", {"file": fh, "title": "song"}, format="multipart")

    # Then: a new track, analysed again (not the tombstone's cache)
    assert again.status_code == 202, again.content
    assert again.json()["reused"] is False and again.json()["music"]["id"] != str(track.pk)
    assert MusicAsset.objects.filter(owner=user, sha256=track.sha256).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("status", UNFINISHED)
@pytest.mark.parametrize("user_of_track", ["own_analysis", "video_pipeline"])
def test_a_track_an_unfinished_job_uses_cannot_be_deleted(api, user, fs_backend, small_file, status, user_of_track):
    from music.models import DeletionAudit, MusicAnalysis

    track = make_track(user, small_file)
    if user_of_track == "own_analysis":
        job = make_job(user, kind="music_analysis", music=track, status=status)
    else:
        _, job, _ = make_video(user, small_file, music=track, job_status=status)
    before = fs_backend.names()

    response = api.delete(f"/music/{track.pk}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_use"
    assert response.json()["error"]["details"] == {"jobs": [str(job.pk)]}
    assert fs_backend.names() == before
    track.refresh_from_db()
    assert track.deleted_at is None and MusicAnalysis.objects.filter(asset=track).exists()
    assert not DeletionAudit.objects.exists()


# --------------------------------------------------------------------------- retention


def _age(model, pk, days: float) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - dt.timedelta(days=days))


@pytest.mark.django_db
def test_purge_media_dry_run_lists_then_purge_removes_only_expired_files(
    api, user, fs_backend, small_file, settings, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from music.models import MusicAsset
    from rendering.models import RenderedVariant
    from video.models import VideoIngest

    settings.RETENTION_ORIGINALS_DAYS = 30
    settings.RETENTION_RENDERS_DAYS = 7
    # Given: an old and a new track; an old finished video (its render old), an old video whose job
    # still runs, and a new video whose render is old enough
    old_track, new_track = make_track(user, small_file, sha="1" * 64), make_track(user, small_file, sha="2" * 64)
    old_video, _, old_render = make_video(user, small_file, sha="3" * 64)
    busy_video, _, busy_render = make_video(user, small_file, sha="4" * 64, job_status=JobStatus.RENDERING)
    new_video, _, aged_render = make_video(user, small_file, sha="5" * 64)
    _age(MusicAsset, old_track.pk, 31)
    _age(MusicAsset, new_track.pk, 29)
    for video in (old_video, busy_video):
        _age(VideoIngest, video.pk, 31)
    for render in (old_render, busy_render, aged_render):
        _age(RenderedVariant, render.pk, 8)
    expected = {
        old_track.file,
        old_video.file,
        old_render.file,
        old_render.captions["srt"],
        old_render.captions["vtt"],
        aged_render.file,
        aged_render.captions["srt"],
        aged_render.captions["vtt"],
    }
    before = fs_backend.names()

    # When: a dry run
    out = _call(call_command, "purge_media", "--dry-run", "--json")

    # Then: it lists exactly the expired files and removes nothing
    import json

    report = json.loads(out)
    assert {n for item in report["purged"] for n in item["files"]} == expected
    assert report["orphans"] == [] and report["dry_run"] is True
    assert fs_backend.names() == before
    assert not MusicAsset.objects.filter(file_purged_at__isnull=False).exists()

    # When: the real run
    with django_capture_on_commit_callbacks(execute=True):
        _call(call_command, "purge_media")

    # Then: only those files are gone; rows stay, marked purged
    assert fs_backend.names() == before - expected
    old_track.refresh_from_db()
    assert old_track.file == "" and old_track.file_purged_at is not None
    assert MusicAsset.objects.get(pk=new_track.pk).file_purged_at is None
    assert VideoIngest.objects.get(pk=busy_video.pk).file_purged_at is None
    assert RenderedVariant.objects.get(pk=busy_render.pk).file_purged_at is None
    # the API: the render's URLs are null, its file answers 410 purged; the track and video say when
    listed = {r["id"]: r for r in api.get(f"/videos/{old_video.pk}/renders").json()["results"]}
    row = listed[old_render.pk]
    assert row["download_url"] is None and row["file_purged_at"] is not None
    assert (row["captions"]["srt_url"], row["captions"]["vtt_url"]) == (None, None)
    gone = api.get(f"/renders/{old_render.pk}/download")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "purged"
    assert api.get(f"/renders/{old_render.pk}/captions.srt").status_code == 410
    assert api.get(f"/renders/{busy_render.pk}/download").status_code == 200
    assert api.get(f"/music/{old_track.pk}").json()["file_purged_at"] is not None
    assert api.get(f"/videos/{old_video.pk}").json()["file_purged_at"] is not None
    # a new video naming the purged track is refused (its file is gone)
    refused = api.post("/videos", {"source_url": "https://example.com/v.mp4", "music_id": str(old_track.pk)})
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "purged"
    # a second run finds nothing more
    assert json.loads(_call(call_command, "purge_media", "--json"))["purged"] == []


def _call(call_command, *args) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_retention_zero_keeps_everything_forever(user, fs_backend, small_file, settings):
    from fala_clip.lifecycle import purge_expired
    from music.models import MusicAsset

    settings.RETENTION_ORIGINALS_DAYS = 0
    settings.RETENTION_RENDERS_DAYS = 0
    track = make_track(user, small_file)
    _age(MusicAsset, track.pk, 10_000)
    assert purge_expired(dry_run=False).purged == []


# --------------------------------------------------------------------------- orphan scan


@pytest.mark.django_db
def test_orphan_scan_removes_only_unreferenced_objects_past_the_grace(backend, user, small_file, settings):
    from fala_clip.lifecycle import purge_orphans

    settings.STORAGE_ORPHAN_GRACE_H = 24
    # Given: a track and a video with all their files, and two objects no row points at
    # (an upload whose request died between the store and the rows; a stray render)
    make_track(user, small_file)
    make_video(user, small_file)
    referenced = backend.names()
    orphans = {
        _store(small_file, "videos", user.pk, "0f0f0f0f-0000-0000-0000-000000000000", "original.mp4"),
        _store(small_file, "renders", user.pk, "11111111-0000-0000-0000-000000000000", "variant-1-hook.mp4"),
    }

    # When: scanned now, the orphans are younger than the grace: kept, not even listed
    young = purge_orphans(dry_run=False)
    assert (young.orphans, young.young_orphans) == ([], 2)
    assert backend.names() == referenced | orphans

    # When: scanned a day later, dry run: listed, nothing removed
    later = timezone.now() + dt.timedelta(hours=24, minutes=1)
    dry = purge_orphans(dry_run=True, now=later)
    assert {o["name"] for o in dry.orphans} == orphans and all(o["bytes"] == 1000 for o in dry.orphans)
    assert backend.names() == referenced | orphans

    # When: for real
    done = purge_orphans(dry_run=False, now=later)

    # Then: exactly the orphans are gone
    assert {o["name"] for o in done.orphans} == orphans
    assert backend.names() == referenced


@pytest.mark.django_db
def test_orphan_scan_judges_age_by_the_files_modification_time(fs_backend, user, small_file, settings):
    from fala_clip.lifecycle import purge_orphans

    settings.STORAGE_ORPHAN_GRACE_H = 24
    old = _store(small_file, "music", user.pk, "22222222-0000-0000-0000-000000000000", "original.wav")
    young = _store(small_file, "music", user.pk, "33333333-0000-0000-0000-000000000000", "original.wav")
    stamp = (timezone.now() - dt.timedelta(hours=25)).timestamp()
    os.utime(Path(settings.MEDIA_ROOT) / old, (stamp, stamp))

    report = purge_orphans(dry_run=False)

    assert [o["name"] for o in report.orphans] == [old] and report.young_orphans == 1
    assert fs_backend.names() == {young}


def test_the_scheduler_runs_the_purge_by_path(settings):
    from django.utils.module_loading import import_string

    from fala_clip.lifecycle import scheduled_purge_media

    assert settings.SCHEDULED_TASKS == [("fala_clip.lifecycle.scheduled_purge_media", settings.PURGE_INTERVAL_S)]
    assert import_string(settings.SCHEDULED_TASKS[0][0]) is scheduled_purge_media
