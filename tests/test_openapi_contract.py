"""The OpenAPI schema matches what the API really answers: schemathesis fuzzes every operation
of a live server (``--checks all``) and finds no failure.

Bounded to about a minute: ``SCHEMATHESIS_MAX_EXAMPLES`` (default 12; 25 took 142 s of a CI run
that must stay under 15 minutes -- set it higher for a deeper local run) examples per operation and phase,
sent by ``SCHEMATHESIS_WORKERS`` (default 2) concurrent schemathesis workers to the threaded live
server — one worker left the CPU two-thirds idle (206 s for 2,681 cases; two: 118 s for the same
operations and checks).  No worker runs here: the jobs valid uploads enqueue just sit in Redis.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))


@pytest.fixture
def seeded(make_artist, isolated_media, redis_conn, settings, tmp_path):
    """Alice with a track, an analysed video with current suggestions and a finished render (a real
    stored mp4), and their (queued) job; uploads and recomputes are not rate limited.  Returns the token
    and the ids schemathesis uses for every path parameter (so responses of real rows are checked;
    negative tests still send malformed ids)."""
    from django.utils import timezone

    from fala_clip.storage import storage_key, store_file
    from jobs.services import job_create
    from music.models import MusicAsset
    from rendering.models import RenderedVariant
    from suggestions.services import suggestions_recompute
    from tests.media_factory import testsrc_video
    from tests.suggestions.engine.synthetic import synthetic_video
    from video.models import VideoIngest
    from video.services import video_analysis_save

    settings.UPLOAD_RATE_LIMIT = "100000/h"
    settings.RECOMPUTE_RATE_LIMIT = "100000/h"
    settings.FEEDBACK_RATE_LIMIT = "100000/h"
    settings.DEBUG = False
    # The seeded job never ends: each GET /jobs/{id}/events would hold a server thread for the
    # stream's full 55 s; a 0.3-s stream still sends its retry hint, the event and the close comment.
    settings.SSE_MAX_STREAM_S = 0.3
    settings.SSE_POLL_INTERVAL_S = 0.1
    user, token = make_artist("alice")
    music = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="t", sha256="a" * 64, file="x", size_bytes=1, format="wav", duration=10
    )
    analysis = video_analysis_save(
        owner=user, sha256="b" * 64, result=synthetic_video(60.0, fps=25.0, seed=1, peaks=[(20.0, 8.0, {"motion": 1})])
    )
    video = VideoIngest.objects.create(
        owner=user,
        artist=user.artist,
        source=VideoIngest.Source.UPLOAD,
        sha256="b" * 64,
        file="y",
        duration=60,
        analysis=analysis,
        options={"target_length_s": 15.0, "allow_experimental": False},
    )
    job = job_create(owner=user, kind="clip_pipeline", params={"video_id": str(video.pk)})
    # The job stays queued and uses the video and the track: the fuzzer's DELETE /videos/{id} and
    # DELETE /music/{id} are answered 409 in_use, so every other operation keeps its seeded rows.
    from jobs.models import Job

    Job.objects.filter(pk=job.pk).update(video_ingest=video, music_asset=music)
    clip = suggestions_recompute(ingest=video).clip_models.order_by("rank").first()
    mp4 = testsrc_video(tmp_path / "render.mp4", duration=1)
    render = RenderedVariant.objects.create(
        ingest=video,
        job=job,
        clip_model=clip,
        index=1,
        status=RenderedVariant.Status.DONE,
        file=store_file(mp4, storage_key("renders", user.pk, video.pk, "1.mp4")),
        duration=1.0,
        width=160,
        height=120,
        size_bytes=mp4.stat().st_size,
        finished_at=timezone.now(),
    )
    from learning.feedback import music_feedback_submit
    from learning.services import center_create, center_set_snapshot

    center = center_create(scope="track", music=music, actor=user, weights={"motion": 1.5})
    center_set_snapshot(center=center, weights={"motion": 2.0}, params={"reframe": "center"}, actor=user, source="api")
    feedback, _ = music_feedback_submit(owner=user, music=music, text="more motion", rating=4, video=video)
    from jobs.models import WebhookEndpoint

    webhook = WebhookEndpoint.objects.create(owner=user, url="https://hooks.example.com/fala", secret="whsec_seeded")
    ids = {
        "webhook_id": webhook.pk,
        "music_id": music.pk,
        "video_id": video.pk,
        "job_id": job.pk,
        "render_id": render.pk,
        "center_id": center.pk,
        "number": 1,
        "feedback_id": feedback.pk,
    }
    return token, ids


#: Learning operations whose schema-valid bodies can still be refused by rules no schema can say:
#: a feedback needs text, a rating or a pick, and its ids must be the caller's and fit together
#: (400/404); a center's target may already have a live center (409) and global/genre centers are
#: staff-only (403); once the fuzzer has archived the seeded center (DELETE), changes are 409
#: ``archived``; a rollback or diff naming a version the center lacks is 400; a reused
#: Idempotency-Key with another body is 422.
LEARNING_OPERATIONS = """
[[operations]]
include-operation-id = [
  "feedback_music_create", "feedback_artist_create", "learning_centers_create", "learning_centers_update",
  "learning_centers_partial_update", "learning_centers_pause", "learning_centers_resume",
  "learning_centers_experimental", "learning_centers_rollback", "learning_centers_diff",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422", "429"]
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_schema_matches_responses(live_server, seeded, tmp_path):
    token, ids = seeded
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        (REPO_ROOT / "tests" / "schemathesis.toml").read_text()
        + LEARNING_OPERATIONS
        + "\n[parameters]\n"
        + "".join(f'"path.{name}" = {json.dumps(v if isinstance(v, int) else str(v))}\n' for name, v in ids.items())
    )
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        os.environ.get("SCHEMATHESIS_WORKERS", "2"),
        "--request-timeout",
        "30",
        "--seed",
        "20261202",
        "--no-color",
        "--continue-on-failure",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
        "--report",
        "junit",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    Path(os.environ.get("SCHEMATHESIS_OUT", tmp_path / "schemathesis.out")).write_text(out)
    print(out[-6000:])
    summary = re.search(r"^\s*(\d+) generated, (.*)$", out, re.MULTILINE)
    assert summary is not None, out[-4000:]
    print(f"schemathesis: {summary.group(1)} test cases: {summary.group(2)}")
    assert proc.returncode == 0, out[-12000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", out)
    assert selected is not None and selected.group(1) == selected.group(2) == selected.group(3), out[-4000:]
    assert "fail" not in summary.group(2) and "error" not in summary.group(2), summary.group(0)
