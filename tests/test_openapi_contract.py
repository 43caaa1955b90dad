"""The OpenAPI schema matches what the API really answers: schemathesis fuzzes every operation
of a live server (``--checks all``) and finds no failure.

Bounded to about two minutes: ``SCHEMATHESIS_MAX_EXAMPLES`` examples per operation and phase.
No worker runs here: the jobs valid uploads enqueue just sit in Redis.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


@pytest.fixture
def seeded(make_artist, isolated_media, redis_conn, settings):
    """Alice with a track, a video and their jobs, so ids exist; uploads are not rate limited."""
    from jobs.services import job_create
    from music.models import MusicAsset
    from video.models import VideoIngest

    settings.UPLOAD_RATE_LIMIT = "100000/h"
    settings.DEBUG = False
    user, token = make_artist("alice")
    music = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="t", sha256="a" * 64, file="x", size_bytes=1, format="wav", duration=10
    )
    video = VideoIngest.objects.create(
        owner=user,
        artist=user.artist,
        source=VideoIngest.Source.UPLOAD,
        music=music,
        sha256="b" * 64,
        file="y",
        duration=10,
    )
    job_create(owner=user, kind="clip_pipeline", params={"video_id": str(video.pk)})
    return token


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_schema_matches_responses(live_server, seeded, tmp_path):
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(REPO_ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {seeded}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
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
