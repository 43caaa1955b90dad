"""POST /music and friends: validation, the ffprobe gate, dedupe, owner scoping, rate limit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from music.models import MusicAnalysis, MusicAsset
from tests.music.analysis.synth import click_track, write_wav

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(isolated_media, redis_conn):
    return isolated_media


@pytest.fixture
def click_wav(tmp_path) -> Path:
    y, _, _ = click_track(120.0, duration=8.0)
    path = tmp_path / "click.wav"
    write_wav(path, y)
    return path


def _upload(api, path: Path, name: str | None = None, **fields):
    from django.test import TestCase

    data = {"title": "My track", **fields, "file": SimpleUploadedFile(name or path.name, path.read_bytes())}
    # Run on-commit enqueues as a committed transaction would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post("/music", data, format="multipart")


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_accepts_audio_and_enqueues_analysis(api, user, click_wav, settings, redis_conn):
    resp = _upload(api, click_wav, declared_genre="Electronic", language="en")
    assert resp.status_code == 202, resp.json()
    body = resp.json()
    assert body["reused"] is False
    assert body["music"]["title"] == "My track"
    assert body["music"]["declared_genre"] == "electronic"
    assert body["music"]["duration"] == pytest.approx(8.0, abs=0.05)
    assert body["job"]["kind"] == "music_analysis" and body["job"]["status"] == "queued"
    asset = MusicAsset.objects.get(pk=body["music"]["id"])
    assert asset.owner == user and asset.file.endswith("original.wav") and "click" not in asset.file
    assert len(_stored_files(settings)) == 1
    from jobs.dispatch import get_queue

    assert get_queue("heavy").job_ids == [body["job"]["id"]]
    assert api.get(f"/jobs/{body['job']['id']}").json()["events"][0]["to_status"] == "queued"


def test_same_file_again_is_reused_and_enqueues_nothing(api, click_wav, redis_conn):
    first = _upload(api, click_wav)
    assert first.status_code == 202
    from jobs.dispatch import get_queue

    queue = get_queue("heavy")
    before = (queue.count, Job.objects.count(), MusicAsset.objects.count())
    again = _upload(api, click_wav, name="renamed.wav", title="Another title")
    assert again.status_code == 200
    assert again.json()["reused"] is True
    assert again.json()["music"]["id"] == first.json()["music"]["id"]
    assert (queue.count, Job.objects.count(), MusicAsset.objects.count()) == before


def test_same_file_from_another_artist_is_a_separate_asset(api, anon_api, make_artist, click_wav):
    assert _upload(api, click_wav).status_code == 202
    _, token = make_artist("dora")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert _upload(anon_api, click_wav).status_code == 202
    assert MusicAsset.objects.count() == 2


def _assert_rejected(resp, code: str, settings, status: int = 400):
    assert resp.status_code == status, resp.json()
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["message"]
    assert MusicAsset.objects.count() == 0 and Job.objects.count() == 0
    assert _stored_files(settings) == []
    incoming = Path(settings.WORK_DIR) / "incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []


def test_corrupt_file_is_rejected_and_nothing_stored(api, click_wav, tmp_path, settings):
    """An m4a cut in half: the moov atom (at the end) is missing."""
    good = tmp_path / "good.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(click_wav), "-c:a", "aac", str(good)], check=True)
    bad = tmp_path / "broken.m4a"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _assert_rejected(_upload(api, bad), "unreadable_media", settings)


def test_sub_second_fragment_is_rejected(api, click_wav, tmp_path, settings):
    tiny = tmp_path / "tiny.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(click_wav), "-t", "0.3", str(tiny)], check=True)
    _assert_rejected(_upload(api, tiny), "empty_media", settings)


def test_text_file_renamed_mp3_is_rejected(api, tmp_path, settings):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio\n" * 100)
    _assert_rejected(_upload(api, fake), "unreadable_media", settings)


def test_track_over_duration_cap_is_rejected(api, click_wav, settings):
    settings.MUSIC_MAX_DURATION_S = 5
    resp = _upload(api, click_wav)
    _assert_rejected(resp, "too_long", settings)
    assert resp.json()["error"]["details"]["max_duration_s"] == 5


def test_oversize_upload_is_413(api, click_wav, settings):
    settings.MUSIC_MAX_BYTES = 1000
    _assert_rejected(_upload(api, click_wav), "too_large", settings, status=413)


def test_missing_title_and_bad_language_are_validation_errors(api, click_wav, settings):
    resp = api.post("/music", {"file": SimpleUploadedFile("a.wav", click_wav.read_bytes())}, format="multipart")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid" and "title" in resp.json()["error"]["details"]
    resp = _upload(api, click_wav, language="klingon")
    assert resp.status_code == 400 and "language" in resp.json()["error"]["details"]
    assert MusicAsset.objects.count() == 0


def test_other_artists_track_is_404(api, other_user, click_wav, anon_api, make_artist):
    _, token = make_artist("erin")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    music_id = _upload(anon_api, click_wav).json()["music"]["id"]
    for url in (f"/music/{music_id}", f"/music/{music_id}/analysis"):
        assert api.get(url).status_code == 404
    assert api.get("/music").json()["count"] == 0
    assert anon_api.get("/music").json()["count"] == 1


def test_upload_rate_limit_429_with_retry_after_and_nothing_stored(api, click_wav, tmp_path, settings):
    settings.UPLOAD_RATE_LIMIT = "2/h"
    for i in range(2):
        other = tmp_path / f"t{i}.wav"
        y, _, _ = click_track(100.0 + i, duration=3.0)
        write_wav(other, y)
        assert _upload(api, other).status_code == 202
    count_before = (MusicAsset.objects.count(), Job.objects.count(), len(_stored_files(settings)))
    resp = _upload(api, click_wav)
    assert resp.status_code == 429
    assert 0 < int(resp["Retry-After"]) <= 3600
    assert resp.json()["error"]["code"] == "rate_limited"
    assert (MusicAsset.objects.count(), Job.objects.count(), len(_stored_files(settings))) == count_before


def test_no_token_is_401(anon_api, click_wav):
    assert _upload(anon_api, click_wav).status_code == 401
    assert MusicAsset.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_analyze_music_runs_through_a_real_worker(api, click_wav, start_worker, settings, isolated_media):
    resp = _upload(api, click_wav, declared_genre="electronic")
    job_id = resp.json()["job"]["id"]
    proc = start_worker(
        "heavy",
        burst=True,
        extra_env=isolated_media,
    )
    out, _ = proc.communicate(timeout=600)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "done", out[-3000:]
    stages = [e["stage"] for e in job["events"] if e["type"] == "stage"]
    assert stages[:2] == ["fetching_music", "decoding"] and "transcribing" in stages and stages[-1] == "saving_music"
    assert [e["to_status"] for e in job["events"] if e["type"] == "transition"] == ["queued", "analyzing", "done"]
    music_id = resp.json()["music"]["id"]
    body = api.get(f"/music/{music_id}/analysis").json()
    assert body["status"] == "done"
    a = body["analysis"]
    assert a["tempo"] == pytest.approx(120.0, rel=0.02)
    assert len(a["beats"]) >= 12 and len(a["downbeats"]) >= 3
    assert {"hop_s", "values"} <= set(a["onset_curve"]) and a["energy_curve"]["values"]
    assert sum(1 for s in a["sections"] if s["is_peak"]) == 1
    assert a["genre"]["declared"] == "electronic" and a["genre"]["inferred"] == "unknown"
    assert {e["kind"] for e in a["embeddings"]} >= {"audio"}
    assert "transcribing" in a["timings"] and "transcribing" in a["versions"]
    assert set(a["transcription"]) >= {"language", "segments", "text"}
    # the workspace is gone, the original and rows remain
    assert not (Path(settings.WORK_DIR) / "jobs" / job_id).exists()
    assert MusicAnalysis.objects.filter(asset_id=music_id).exists()
    # a re-upload now returns the cached analysis
    again = _upload(api, click_wav)
    assert again.status_code == 200 and again.json()["analysis"]["tempo"] == a["tempo"]


def test_database_error_after_the_store_removes_the_stored_file(api, click_wav, settings, monkeypatch, redis_conn):
    """Given the asset row was written and the file stored, when creating the job fails in the
    database, then nothing is left: no rows, no stored file, no temp file, nothing queued."""
    from django.db import DatabaseError

    import jobs.services
    from jobs.dispatch import get_queue

    seen: dict[str, object] = {}

    def failing_job_create(**kwargs):
        seen["assets_inside"] = MusicAsset.objects.count()
        seen["stored_inside"] = _stored_files(settings)
        raise DatabaseError("injected: connection lost")

    monkeypatch.setattr(jobs.services, "job_create", failing_job_create)
    with pytest.raises(DatabaseError, match="injected"):
        _upload(api, click_wav)
    assert seen["assets_inside"] == 1 and len(seen["stored_inside"]) == 1  # the failure came after the store
    assert MusicAsset.objects.count() == 0 and Job.objects.count() == 0
    assert _stored_files(settings) == []
    incoming = Path(settings.WORK_DIR) / "incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []
    assert get_queue("heavy").count == 0


def test_lost_race_for_the_same_file_reuses_the_winner_and_removes_its_copy(api, click_wav, settings, monkeypatch):
    """Given another request stores the same file first (between our dedupe and our insert),
    when our insert hits the (owner, sha256) constraint, then we answer reused and delete our copy."""
    first = _upload(api, click_wav)
    assert first.status_code == 202
    winner = MusicAsset.objects.get()
    real_filter = MusicAsset.objects.filter
    calls = {"n": 0}

    def dedupe_misses_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1 and "sha256" in kwargs:  # our dedupe runs before the winner committed
            return real_filter(pk=None)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(MusicAsset.objects, "filter", dedupe_misses_once)
    again = _upload(api, click_wav, name="again.wav")
    assert again.status_code == 200, again.json()
    assert again.json()["reused"] is True and again.json()["music"]["id"] == str(winner.pk)
    assert MusicAsset.objects.count() == 1 and Job.objects.count() == 1
    assert [p.relative_to(settings.MEDIA_ROOT).as_posix() for p in _stored_files(settings)] == [winner.file]
