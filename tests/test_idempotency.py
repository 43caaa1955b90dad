"""``Idempotency-Key`` on the submissions (``fala_clip.api.idempotency``): replay, reuse, scope,
expiry, malformed keys, failures that release the key, and requests racing on one key against a
live server (real HTTP, real PostgreSQL, real Redis queue)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TestCase
from django.urls import resolve
from django.utils import timezone

from fala_clip.models import IdempotencyRecord
from jobs.dispatch import get_queue
from jobs.models import Job
from learning.models import ArtistFeedback
from music.models import MusicAsset
from suggestions.models import SuggestionSet
from tests import media_factory as mf
from video.models import VideoIngest

REPLAYED = "Idempotent-Replayed"


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    return mf.sine_audio(tmp_path_factory.mktemp("a") / "tone.wav", duration=2)


@pytest.fixture(scope="module")
def other_wav(tmp_path_factory) -> Path:
    return mf.sine_audio(tmp_path_factory.mktemp("b") / "tone.wav", freq=660, duration=2)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> Path:
    return mf.testsrc_video(tmp_path_factory.mktemp("v") / "clip.mp4", duration=2, tone=440)


def _post(api, url, data, key, fmt="multipart"):
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        resp = api.post(url, data, format=fmt, HTTP_IDEMPOTENCY_KEY=key)
    resp.enqueued = len(callbacks)
    return resp


def _music(api, path: Path, key: str, title: str = "Song"):
    return _post(api, "/music", {"file": SimpleUploadedFile("song.wav", path.read_bytes()), "title": title}, key)


def _stored(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
class TestReplay:
    @pytest.fixture(autouse=True)
    def _media(self, isolated_media, redis_conn):
        return isolated_media

    def test_music_upload_replay_returns_the_first_response_and_creates_nothing(self, api, wav, settings):
        first = _music(api, wav, "up-1")
        assert first.status_code == 202, first.json()
        assert REPLAYED not in first.headers and first.enqueued >= 1

        again = _music(api, wav, "up-1")

        # the first answer (202 with the job), not the dedupe answer (200 reused) nor a new asset
        assert again.status_code == 202 and again.json() == first.json()
        assert again.headers[REPLAYED] == "true"
        assert again.enqueued == 0
        assert MusicAsset.objects.count() == 1 and Job.objects.count() == 1
        assert get_queue("heavy").job_ids == [first.json()["job"]["id"]]
        assert len(_stored(settings)) == 1

    def test_same_key_with_another_file_is_422_and_nothing_created(self, api, wav, other_wav, settings):
        assert _music(api, wav, "up-2").status_code == 202

        for resp in (_music(api, other_wav, "up-2"), _music(api, wav, "up-2", title="Other title")):
            assert resp.status_code == 422, resp.json()
            assert resp.json()["error"]["code"] == "idempotency_key_reused"
            assert resp.enqueued == 0
        assert MusicAsset.objects.count() == 1 and Job.objects.count() == 1
        assert len(get_queue("heavy").job_ids) == 1 and len(_stored(settings)) == 1
        incoming = Path(settings.WORK_DIR) / "incoming"
        assert not incoming.exists() or list(incoming.iterdir()) == []

    def test_video_upload_replay(self, api, mp4):
        upload = {"file": SimpleUploadedFile("show.mp4", mp4.read_bytes()), "aspect": "9:16"}
        first = _post(api, "/videos", upload, "v-1")
        assert first.status_code == 202, first.json()
        upload = {"file": SimpleUploadedFile("show.mp4", mp4.read_bytes()), "aspect": "9:16"}
        again = _post(api, "/videos", upload, "v-1")
        assert (again.status_code, again.json(), again.headers[REPLAYED]) == (202, first.json(), "true")
        upload = {"file": SimpleUploadedFile("show.mp4", mp4.read_bytes()), "aspect": "16:9"}
        reused = _post(api, "/videos", upload, "v-1")
        assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
        assert VideoIngest.objects.count() == 1 and Job.objects.count() == 1
        assert get_queue("heavy").job_ids == [first.json()["job"]["id"]]

    def test_url_ingest_replay(self, api, settings, url_server):
        settings.DOWNLOAD_ALLOW_HOSTS = [url_server]
        url = f"http://{url_server}/clip.mp4"
        first = _post(api, "/videos", {"source_url": url}, "u-1", fmt="json")
        assert first.status_code == 202, first.json()
        again = _post(api, "/videos", {"source_url": url}, "u-1", fmt="json")
        assert (again.status_code, again.json(), again.headers[REPLAYED]) == (202, first.json(), "true")
        assert again.enqueued == 0
        other = _post(api, "/videos", {"source_url": url + "?b"}, "u-1", fmt="json")
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        assert VideoIngest.objects.count() == 1 and Job.objects.count() == 1
        assert get_queue("heavy").job_ids == [first.json()["job"]["id"]]
        # the key is per operation: the same key on another endpoint is its own
        fb = _post(api, "/feedback/artist", {"rating": 4}, "u-1", fmt="json")
        assert fb.status_code == 202 and REPLAYED not in fb.headers

    def test_recompute_replay_and_path_is_part_of_the_request(self, api, user):
        from suggestions.services import suggestions_recompute
        from tests.suggestions.engine.synthetic import synthetic_video
        from video.services import video_analysis_save

        videos = []
        for n in range(2):
            analysis = video_analysis_save(
                owner=user, sha256=f"{n}" * 64, result=synthetic_video(40.0, fps=25.0, seed=n, peaks=[(10.0, 5.0, {})])
            )
            video = VideoIngest.objects.create(
                owner=user,
                artist=user.artist,
                source=VideoIngest.Source.UPLOAD,
                sha256=f"{n}" * 64,
                file=f"v{n}",
                duration=40,
                analysis=analysis,
                options={"target_length_s": 10.0, "allow_experimental": False},
            )
            suggestions_recompute(ingest=video)
            videos.append(video)
        sets = SuggestionSet.objects.count()
        first = _post(api, f"/videos/{videos[0].pk}/suggestions/recompute", None, "r-1")
        assert first.status_code == 200, first.json()
        again = _post(api, f"/videos/{videos[0].pk}/suggestions/recompute", None, "r-1")
        assert (again.status_code, again.json(), again.headers[REPLAYED]) == (200, first.json(), "true")
        other = _post(api, f"/videos/{videos[1].pk}/suggestions/recompute", None, "r-1")
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        assert SuggestionSet.objects.count() == sets

    def test_users_with_the_same_key_are_independent(self, api, make_artist):
        from rest_framework.test import APIClient

        _, token = make_artist("bob")
        bob = APIClient()
        bob.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        a = _post(api, "/feedback/artist", {"text": "mais rápido"}, "shared", fmt="json")
        b = _post(bob, "/feedback/artist", {"text": "mais lento"}, "shared", fmt="json")

        assert a.status_code == b.status_code == 202
        assert REPLAYED not in b.headers and a.json()["id"] != b.json()["id"]
        assert ArtistFeedback.objects.count() == 2 and Job.objects.filter(kind="feedback_apply").count() == 2
        assert IdempotencyRecord.objects.filter(key="shared").count() == 2

    def test_expired_key_acts_as_new_and_is_purged(self, api, settings):
        settings.IDEMPOTENCY_TTL_S = 3600
        first = _post(api, "/feedback/artist", {"rating": 5}, "old", fmt="json")
        assert first.status_code == 202
        IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=3601))

        again = _post(api, "/feedback/artist", {"rating": 5}, "old", fmt="json")

        assert again.status_code == 202 and REPLAYED not in again.headers
        assert again.json()["id"] != first.json()["id"] and ArtistFeedback.objects.count() == 2
        assert IdempotencyRecord.objects.filter(key="old").count() == 1  # the new claim replaced the old
        # the cleaner purges what has expired, and only that
        _post(api, "/feedback/artist", {"rating": 1}, "older", fmt="json")
        IdempotencyRecord.objects.filter(key="older").update(created_at=timezone.now() - timedelta(seconds=3601))
        from io import StringIO

        out = StringIO()
        call_command("cleanup", stdout=out)
        assert "purged 1 expired idempotency records" in out.getvalue()
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["old"]

    @pytest.mark.parametrize("key", ["", "   ", "k" * 201, "bell\x07", "tab\there"])
    def test_malformed_key_is_400_and_nothing_created(self, api, wav, key, settings):
        resp = _music(api, wav, key)
        assert resp.status_code == 400, resp.content
        assert resp.json()["error"]["code"] == "invalid" and "Idempotency-Key" in resp.json()["error"]["details"]
        fb = _post(api, "/feedback/artist", {"rating": 3}, key, fmt="json")
        assert fb.status_code == 400
        assert MusicAsset.objects.count() == 0 and ArtistFeedback.objects.count() == 0 and Job.objects.count() == 0
        assert IdempotencyRecord.objects.count() == 0 and _stored(settings) == []

    def test_rejected_first_attempt_releases_the_key(self, api):
        bad = _post(api, "/feedback/artist", {}, "fix-me", fmt="json")  # neither text nor rating
        assert bad.status_code == 400
        fixed = _post(api, "/feedback/artist", {"rating": 2}, "fix-me", fmt="json")
        assert fixed.status_code == 202 and REPLAYED not in fixed.headers
        assert ArtistFeedback.objects.count() == 1

    def test_failed_5xx_first_attempt_is_not_remembered(self, api, wav, settings, tmp_path):
        from django.core.files.storage import storages

        # A real fault: the media root is a file, so storing the upload fails (500).
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("x")
        good_root = settings.MEDIA_ROOT
        settings.MEDIA_ROOT = str(blocker)
        storages._storages = {}
        api.raise_request_exception = False
        failed = _music(api, wav, "retry-me")
        assert failed.status_code == 500
        assert MusicAsset.objects.count() == 0 and IdempotencyRecord.objects.count() == 0

        settings.MEDIA_ROOT = good_root
        storages._storages = {}
        retried = _music(api, wav, "retry-me")

        assert retried.status_code == 202 and REPLAYED not in retried.headers
        assert MusicAsset.objects.count() == 1 and Job.objects.count() == 1


@pytest.fixture
def url_server(tmp_path):
    import http.server

    from tests.video.test_url_ingest import _Handler

    src = mf.testsrc_video(tmp_path / "clip.mp4", duration=2, tone=440)
    _Handler.files = {"/clip.mp4": src.read_bytes()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


# --------------------------------------------------------------------------- races (live server)


def _racers(n: int, send) -> list[requests.Response]:
    """``n`` threads released together by a barrier, each calling ``send()``."""
    barrier = threading.Barrier(n)
    results: list[requests.Response | BaseException] = [None] * n  # type: ignore[list-item]

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = send()
        except BaseException as exc:  # reported below, with the others
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in results), results
    return results  # type: ignore[return-value]


@pytest.mark.django_db(transaction=True)
def test_uploads_racing_on_one_key_create_exactly_one_asset(
    live_server, make_artist, isolated_media, redis_conn, wav, settings
):
    """Given 6 clients sending the same upload with one key at the same instant, then exactly one
    asset, one job and one queue entry exist, and every client got the same 202 body (all but one
    marked as replayed: they waited on the key's row until the first committed)."""
    settings.IDEMPOTENCY_WAIT_S = 120  # a loaded CI machine must not turn the wait into a 409
    _, token = make_artist("racer")
    payload = wav.read_bytes()

    def send() -> requests.Response:
        return requests.post(
            f"{live_server.url}/music",
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "race-1"},
            data={"title": "Race"},
            files={"file": ("race.wav", payload, "audio/wav")},
            timeout=60,
        )

    responses = _racers(6, send)

    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    texts = sorted({r.text for r in responses})
    assert len(texts) == 1, "\n".join(texts)
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == [""] + ["true"] * 5
    assert MusicAsset.objects.count() == 1 and Job.objects.count() == 1
    assert get_queue("heavy").job_ids == [responses[0].json()["job"]["id"]]
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_feedback_racing_on_one_key_creates_exactly_one_row(live_server, make_artist, redis_conn, settings):
    settings.IDEMPOTENCY_WAIT_S = 120
    _, token = make_artist("racer")

    def send() -> requests.Response:
        return requests.post(
            f"{live_server.url}/feedback/artist",
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "race-2"},
            json={"text": "cortes mais rápidos", "rating": 4},
            timeout=60,
        )

    responses = _racers(8, send)

    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert ArtistFeedback.objects.count() == 1 and Job.objects.filter(kind="feedback_apply").count() == 1
    assert get_queue("default").job_ids == [responses[0].json()["job"]["id"]]


@pytest.mark.django_db(transaction=True)
def test_a_repeat_waits_for_the_first_then_409_past_the_wait(live_server, make_artist, redis_conn, settings):
    """Given a first request holding the key (an uncommitted claim on another connection), a repeat
    waits up to IDEMPOTENCY_WAIT_S and then answers 409 ``idempotency_key_in_progress``; once the
    holder rolls back, the key is free and the repeat runs."""
    user, token = make_artist("waiter")
    settings.IDEMPOTENCY_WAIT_S = 0.5
    operation = f"POST {resolve('/feedback/artist').route}"
    claimed, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(user=user, operation=operation, key="busy", request_hash="x" * 64)
                claimed.set()
                release.wait(timeout=60)
                transaction.set_rollback(True)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert claimed.wait(timeout=30)

    def send() -> requests.Response:
        return requests.post(
            f"{live_server.url}/feedback/artist",
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "busy"},
            json={"rating": 4},
            timeout=60,
        )

    busy = send()
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "idempotency_key_in_progress" and busy.headers["Retry-After"] == "1"
    assert ArtistFeedback.objects.count() == 0

    release.set()
    holder.join(timeout=30)
    done = send()
    assert done.status_code == 202 and REPLAYED not in done.headers
    assert ArtistFeedback.objects.count() == 1
