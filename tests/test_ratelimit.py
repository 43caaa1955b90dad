"""Per-user rate limits with their own budgets, and the limiter when Redis is unreachable.

Budgets: POST /videos, POST /music, recompute and feedback each count separately per user;
over its budget a request gets 429 with Retry-After in the JSON error shape and stores nothing.

Redis down (issue 14, scenario 5: it used to be a 500 before the view ran): given a private
redis-server that the cache and the queues use, when it is shut down and an artist uploads,
then the upload is accepted (fail open, a warning log line), its job row stays ``queued``,
and once Redis is back the reconciler enqueues it; recompute fails closed with a JSON 503 and
stores nothing; either policy can be chosen per endpoint by setting.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from rest_framework.test import APIClient

from jobs.models import Job, JobStatus
from learning.models import ArtistFeedback
from music.models import MusicAsset
from tests import media_factory as mf
from tests.procwatch import wait_until
from video.models import VideoIngest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(isolated_media, redis_conn):
    return isolated_media


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rl")
    return {
        "video": mf.testsrc_video(d / "a.mp4", duration=3, tone=440),
        "video2": mf.testsrc_video(d / "b.mp4", duration=3, tone=660),
        "music": mf.sine_audio(d / "a.wav", freq=440, duration=3),
        "music2": mf.sine_audio(d / "b.wav", freq=550, duration=3),
    }


def _video(api: APIClient, path: Path):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post("/videos", {"file": SimpleUploadedFile("show.mp4", path.read_bytes())}, format="multipart")


def _music(api: APIClient, path: Path):
    data = {"title": "t", "file": SimpleUploadedFile(path.name, path.read_bytes())}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post("/music", data, format="multipart")


def _feedback(api: APIClient):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.generic("POST", "/feedback/artist", json.dumps({"rating": 3}), content_type="application/json")


def _stored(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _rows() -> tuple[int, int, int, int]:
    return VideoIngest.objects.count(), MusicAsset.objects.count(), ArtistFeedback.objects.count(), Job.objects.count()


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- budgets ----------------------------------------------------------------------------------


def test_each_endpoint_has_its_own_budget_per_user(api, make_artist, media, settings):
    settings.VIDEO_UPLOAD_RATE_LIMIT = "1/h"
    settings.MUSIC_UPLOAD_RATE_LIMIT = "1/h"
    settings.FEEDBACK_RATE_LIMIT = "1/h"
    assert _video(api, media["video"]).status_code == 202
    before, files = _rows(), _stored(settings)
    # When the same artist sends a second video, then 429 in the JSON shape, with Retry-After
    refused = _video(api, media["video2"])
    assert refused.status_code == 429
    assert refused.json() == {
        "error": {
            "code": "rate_limited",
            "message": "Too many video uploads; try again later.",
            "details": {"limit": "1/h"},
        }
    }
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert (_rows(), _stored(settings)) == (before, files)  # nothing stored
    # The other budgets are untouched by the spent video budget
    assert _music(api, media["music"]).status_code == 202
    assert _feedback(api).status_code == 202
    music_refused = _music(api, media["music2"])
    assert music_refused.status_code == 429 and music_refused.json()["error"]["message"].startswith("Too many music")
    assert _feedback(api).status_code == 429
    # And another artist has budgets of its own
    _, token = make_artist("carol")
    assert _video(_client(token), media["video2"]).status_code == 202


def test_the_upload_budgets_default_to_upload_rate_limit(api, media, settings):
    settings.UPLOAD_RATE_LIMIT = "1/h"
    settings.VIDEO_UPLOAD_RATE_LIMIT = ""
    settings.MUSIC_UPLOAD_RATE_LIMIT = ""
    assert _video(api, media["video"]).status_code == 202
    assert _music(api, media["music"]).status_code == 202  # a separate count, at the same rate
    for refused in (_video(api, media["video2"]), _music(api, media["music2"])):
        assert refused.status_code == 429 and refused.json()["error"]["details"] == {"limit": "1/h"}


@pytest.mark.parametrize("name", ["VIDEO_UPLOAD_RATE_LIMIT", "MUSIC_UPLOAD_RATE_LIMIT"])
def test_a_bad_upload_budget_is_named_by_the_check(settings, name):
    from fala_clip.checks import check_settings

    setattr(settings, name, "3/x")
    errors = [e for e in check_settings() if name in e.msg]
    assert len(errors) == 1 and errors[0].id == "fala_clip.E002"


# --- Redis unreachable --------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test on a free port, stopped and started at will."""

    def __init__(self, tmp: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        conn = redis.Redis.from_url(self.url)
        wait_until(lambda: self._ping(conn), timeout=30)

    @staticmethod
    def _ping(conn) -> bool:  # type: ignore[no-untyped-def]
        import redis

        try:
            return bool(conn.ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path, settings, monkeypatch):
    """The cache (the limiter) and both queues on a redis-server this test owns."""
    import django_rq.settings

    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
    for queue in ("heavy", "default"):
        monkeypatch.setitem(django_rq.settings.QUEUES[queue], "URL", server.url)
    yield server
    server.stop()


#: The enqueue after commit must run as in production: django-rq defers its own enqueue to the
#: commit too, which a test's surrounding transaction would run outside our error handling.
redis_down = pytest.mark.django_db(transaction=True)


def _queued_ids(server: PrivateRedis, queue: str) -> list[str]:
    import redis
    from rq import Queue

    return Queue(queue, connection=redis.Redis.from_url(server.url)).job_ids


@redis_down
def test_uploads_while_redis_is_down_are_accepted_and_enqueued_when_it_is_back(
    api, media, settings, private_redis, caplog
):
    from jobs.reconciler import reconcile_jobs

    settings.RATELIMIT_UPLOAD_ON_REDIS_DOWN = "open"
    settings.RATELIMIT_FEEDBACK_ON_REDIS_DOWN = "open"
    # Given Redis is down
    private_redis.stop()
    # When an artist uploads a video and a track and sends feedback
    with caplog.at_level(logging.WARNING):
        video = _video(api, media["video"])
        music = _music(api, media["music"])
        feedback = _feedback(api)
    # Then each is accepted, its row stored and its job left queued (not enqueued)
    assert (video.status_code, music.status_code, feedback.status_code) == (202, 202, 202), video.content
    jobs = {
        "video": Job.objects.get(pk=video.json()["job"]["id"]),
        "music": Job.objects.get(pk=music.json()["job"]["id"]),
    }
    assert VideoIngest.objects.count() == MusicAsset.objects.count() == ArtistFeedback.objects.count() == 1
    assert all(j.status == JobStatus.QUEUED and j.enqueued_at is None for j in jobs.values())
    feedback_jobs = Job.objects.filter(kind="feedback_apply")
    assert [j.status for j in feedback_jobs] == [JobStatus.QUEUED]
    assert len(_stored(settings)) == 2
    limiter_lines = [r for r in caplog.records if r.getMessage().startswith("rate limiter unavailable")]
    assert [r.ratelimit_group for r in limiter_lines] == ["video_upload", "music_upload", "feedback"]
    assert all("served without a limit" in r.getMessage() for r in limiter_lines)
    # When Redis is back and the reconciler runs
    private_redis.start()
    settings.JOB_REQUEUE_AFTER_S = 0
    report = reconcile_jobs()
    # Then every waiting job is enqueued, once
    expected = sorted(str(j.pk) for j in [*jobs.values(), *feedback_jobs])
    assert sorted(report.requeued) == expected
    assert sorted(_queued_ids(private_redis, "heavy")) == sorted(str(j.pk) for j in jobs.values())
    assert _queued_ids(private_redis, "default") == [str(feedback_jobs.get().pk)]
    assert all(Job.objects.get(pk=pk).enqueued_at is not None for pk in expected)


@redis_down
def test_recompute_while_redis_is_down_is_a_json_503_and_stores_nothing(api, settings, private_redis, caplog):
    from suggestions.models import SuggestionSet

    assert settings.RATELIMIT_RECOMPUTE_ON_REDIS_DOWN == "closed"  # the default
    private_redis.stop()
    with caplog.at_level(logging.WARNING):
        resp = api.post(f"/videos/{uuid.uuid4()}/suggestions/recompute")
    assert resp.status_code == 503
    assert resp["Retry-After"] == "30"
    assert resp.json()["error"]["code"] == "rate_limiter_unavailable"
    assert SuggestionSet.objects.count() == 0
    assert any("refused with 503" in r.getMessage() for r in caplog.records)


@redis_down
def test_an_upload_can_be_set_to_fail_closed(api, media, settings, private_redis):
    settings.RATELIMIT_UPLOAD_ON_REDIS_DOWN = "closed"
    private_redis.stop()
    resp = _video(api, media["video"])
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "rate_limiter_unavailable"
    assert _rows() == (0, 0, 0, 0) and _stored(settings) == []
    incoming = Path(settings.WORK_DIR) / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


@redis_down
def test_once_redis_is_back_the_limit_counts_again(api, media, settings, private_redis):
    settings.VIDEO_UPLOAD_RATE_LIMIT = "1/h"
    private_redis.stop()
    assert _video(api, media["video"]).status_code == 202  # unlimited while down
    private_redis.start()
    assert _video(api, media["video2"]).status_code == 202  # the first counted one
    assert _video(api, media["video"]).status_code == 429
