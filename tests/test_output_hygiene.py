"""What the API shows an artist carries no server path and no command line.

A real pipeline run in-process (``jobs.runner.run_job``, as the heavy worker runs it) with
real ffmpeg failing on a corrupt source: the job's error, its events and the render log
read through the API name no absolute path of this machine and no ``ffmpeg -…`` command;
the database keeps the detail for operators.  Plus the scrubber on its own.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from fala_clip.scrub import scrub_data, scrub_text
from fala_clip.storage import storage_key, store_file
from jobs.models import Job, JobStatus
from jobs.runner import run_job
from jobs.services import job_create
from rendering.models import RenderedVariant
from tests import media_factory as mf
from tests.suggestions.engine.synthetic import synthetic_video
from video.models import VideoIngest
from video.services import video_analysis_save

COMMAND = re.compile(r"ffmpeg\s+-|ffprobe\s+-")


def _server_paths(settings) -> list[str]:
    """The absolute directories of this machine that must never appear in an API body."""
    roots = {
        str(settings.WORK_DIR),
        str(settings.MEDIA_ROOT),
        str(settings.BASE_DIR),
        tempfile.gettempdir(),
        sys.prefix,
        os.path.expanduser("~"),
    }
    return sorted(r for r in roots if r and r != "/")


def _assert_clean(body: object, settings) -> None:
    text = json.dumps(body)
    for root in _server_paths(settings):
        assert root not in text, f"{root} in {text[:3000]}"
    assert not COMMAND.search(text), text[:3000]
    assert "file:/" not in text, text[:3000]


def _corrupt_source(tmp_path: Path) -> Path:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(64_000))
    return bad


def _submit(user, source: Path, *, analysed: bool) -> Job:
    """An uploaded ingest whose stored original is ``source``; with ``analysed`` its video
    analysis is already cached (same owner and sha256), so the pipeline goes straight to
    suggesting and rendering."""
    sha = "e" * 64
    if analysed:
        video = synthetic_video(20.0, fps=25.0, seed=3)
        video["meta"].update({"width": 320, "height": 240, "has_audio": True})
        video_analysis_save(owner=user, sha256=sha, result=video)
    ingest = VideoIngest.objects.create(
        owner=user, artist=user.artist, source="upload", sha256=sha,
        file=store_file(source, storage_key("videos", user.pk, "hygiene", "original.mp4")),
        options={"aspect": "9:16", "target_length_s": 15.0, "allow_experimental": False, "captions": False},
        probe={"format": "mov,mp4,m4a,3gp,3g2,mj2", "duration": 20.0, "width": 320, "height": 240, "fps": 25.0,
               "has_audio": True, "video_codec": "h264", "audio_codec": "aac", "streams": 2},
    )  # fmt: skip
    job = job_create(owner=user, kind="clip_pipeline", params={"video_id": str(ingest.pk)})
    Job.objects.filter(pk=job.pk).update(video_ingest=ingest)
    return job


@pytest.mark.django_db(transaction=True)
def test_failed_render_shows_no_server_path_or_command_through_the_api(api, user, settings, isolated_media, tmp_path):
    """Given a cached analysis and a corrupt stored original, when the pipeline renders,
    then ffmpeg fails (its first run, the loudness pass), the job fails with
    ``render_loudness_failed`` and neither the job (error,
    events) nor the render rows read through the API name a server path or an ffmpeg command."""
    settings.RENDER_PRESET = "ultrafast"
    job = _submit(user, _corrupt_source(tmp_path), analysed=True)

    run_job(str(job.pk))

    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "render_loudness_failed"), job.error_message
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["error"]["code"] == "render_loudness_failed"
    assert body["error"]["message"].startswith("variant 1 (")
    _assert_clean(body, settings)
    renders = api.get(f"/videos/{job.video_ingest_id}/renders").json()
    # variant 1 failed; the variants after it were never rendered (a terminal state, not pending)
    failed = [r for r in renders["results"] if r["status"] == "failed"]
    assert [r["error_code"] for r in failed] == ["loudness_failed"] + ["not_rendered"] * (len(failed) - 1), renders
    assert len(failed) == len(renders["results"]) >= 2, renders
    _assert_clean(renders, settings)
    # the operators' copy (the admin) keeps ffmpeg's own words
    row = RenderedVariant.objects.get(pk=failed[0]["id"])
    assert row.error_message.startswith("loudness_failed: loudness pass exited with 1 [ffmpeg: ")


@pytest.mark.django_db(transaction=True)
def test_failed_analysis_of_a_corrupt_file_shows_no_server_path(api, user, settings, isolated_media, tmp_path):
    """Given a corrupt stored original and no cached analysis, when the pipeline analyses it,
    then the job fails with ``corrupt_media`` and the API shows no server path or command."""
    job = _submit(user, _corrupt_source(tmp_path), analysed=False)

    run_job(str(job.pk))

    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "corrupt_media"), job.error_message
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["error"]["message"].startswith("The video could not be decoded")
    _assert_clean(body, settings)
    _assert_clean(api.get(f"/videos/{job.video_ingest_id}/analysis").json(), settings)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_render_log_shown_to_the_owner_has_no_server_path_or_command(api, user, settings, isolated_media, tmp_path):
    """Given a cached analysis and a good source, when the pipeline renders its variants,
    then each render's log (plan, loudness, filter graph, verify) reads through the API
    without a server path or an ffmpeg command line."""
    settings.RENDER_PRESET = "ultrafast"
    source = mf.testsrc_video(tmp_path / "good.mp4", size="320x240", duration=20, tone=440)
    job = _submit(user, source, analysed=True)

    run_job(str(job.pk))

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    renders = api.get(f"/videos/{job.video_ingest_id}/renders").json()["results"]
    assert renders and all(r["status"] == "done" for r in renders)
    steps = {line.split("] ", 1)[1].split(":", 1)[0] for r in renders for line in r["log"]}
    assert {"plan", "encode", "verify", "done"} <= steps, steps
    _assert_clean(renders, settings)
    _assert_clean(api.get(f"/jobs/{job.pk}").json(), settings)


@pytest.mark.django_db(transaction=True)
def test_failed_music_analysis_of_a_corrupt_track_shows_no_server_path(api, user, settings, isolated_media, tmp_path):
    """Given a stored track whose bytes do not decode, when its analysis job runs, then it
    fails with ``corrupt_media`` and ``GET /music/{id}/analysis`` and the job show no server
    path or command."""
    from music.models import MusicAsset

    bad = tmp_path / "corrupt.mp3"
    bad.write_bytes(b"ID3" + os.urandom(16_000))
    asset = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="broken", sha256="f" * 64, size_bytes=16_003, format="mp3",
        duration=30.0, file=store_file(bad, storage_key("music", user.pk, "hygiene", "original.mp3")),
    )  # fmt: skip
    job = job_create(owner=user, kind="music_analysis", params={"music_id": str(asset.pk)})
    Job.objects.filter(pk=job.pk).update(music_asset=asset)

    run_job(str(job.pk))

    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "corrupt_media"), job.error_message
    body = api.get(f"/music/{asset.pk}/analysis").json()
    assert body["error"]["code"] == "corrupt_media"
    assert body["error"]["message"].startswith("The track could not be decoded")
    _assert_clean(body, settings)
    _assert_clean(api.get(f"/jobs/{job.pk}").json(), settings)


# --- the scrubber ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "given,shown",
    [
        ("encode: /usr/bin/ffmpeg -nostdin -i file:/srv/x/in.mp4 out.mp4", "encode: <command>"),
        ("measure pass: ffmpeg -nostdin -i a.mp4 -f null -\nnext line", "measure pass: <command>\nnext line"),
        ("file:/tmp/w/jobs/1/source.mp4: Invalid data found", "<file>: Invalid data found"),
        ("[Errno 28] No space left on device: '/var/lib/fala/x.mp4'", "[Errno 28] No space left on device: '<file>'"),
        ("Error opening output file /tmp/x/variant-1.mp4.", "Error opening output file <file>."),
        ("ass=filename=/tmp/w/v.ass:fontsdir=/tmp/w/fonts", "ass=filename=<file>:fontsdir=<file>"),
        ("see /videos/12/renders at http://127.0.0.1:8000/tmp/x.mp4", "see /videos/12/renders at http://127.0.0.1:8000/tmp/x.mp4"),
        ("ffmpeg exited with 1 [ffmpeg: Invalid data]", "ffmpeg exited with 1 [ffmpeg: Invalid data]"),
        ("ratio 16/9, 1/2 done", "ratio 16/9, 1/2 done"),
    ],
)  # fmt: skip
def test_scrub_text(given, shown):
    assert scrub_text(given) == shown


def test_scrub_text_knows_the_configured_directories(settings, tmp_path):
    settings.WORK_DIR = "/fala-work/here"
    assert scrub_text("cannot write /fala-work/here/jobs/x.mp4") == "cannot write <file>"
    assert scrub_text(f"repo {settings.BASE_DIR}/manage.py") == "repo <file>"


def test_scrub_data_walks_nested_values():
    data = {"log": ["[0.1s] done: /tmp/a.mp4 12 bytes"], "n": 3, "deep": {"m": ("ffprobe -v error x",)}}
    assert scrub_data(data) == {"log": ["[0.1s] done: <file> 12 bytes"], "n": 3, "deep": {"m": ["<command>"]}}
