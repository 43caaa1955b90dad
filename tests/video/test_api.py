"""POST /videos (upload / URL) and the read endpoints: validation, gate, scoping, idempotency."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from jobs.models import Job
from music.models import MusicAsset
from video.models import VideoIngest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(isolated_media, redis_conn):
    return isolated_media


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=6", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _post(api, data, fmt="multipart"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post("/videos", data, format=fmt)


def _upload(api, path: Path, name: str = "show.mp4", **fields):
    return _post(api, {"file": SimpleUploadedFile(name, path.read_bytes()), **fields})


def _stored(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _nothing_stored(settings) -> None:
    assert VideoIngest.objects.count() == 0 and Job.objects.count() == 0
    assert _stored(settings) == []


def test_upload_accepted_with_pipeline_job(api, clip_mp4, settings):
    from jobs.dispatch import get_queue

    resp = _upload(api, clip_mp4, aspect="9:16")
    assert resp.status_code == 202, resp.json()
    body = resp.json()
    assert body["reused"] is False
    assert body["video"]["source"] == "upload" and body["video"]["duration"] == pytest.approx(6.0, abs=0.1)
    assert body["video"]["options"]["aspect"] == "9:16" and body["video"]["options"]["target_length_s"] == 30.0
    assert (body["job"]["kind"], body["job"]["status"]) == ("clip_pipeline", "queued")
    assert get_queue("heavy").job_ids == [body["job"]["id"]]
    ingest = VideoIngest.objects.get(pk=body["video"]["id"])
    assert ingest.file.endswith("original.mp4") and "show" not in ingest.file
    assert len(_stored(settings)) == 1
    assert api.get(f"/videos/{ingest.pk}").json()["job"]["id"] == body["job"]["id"]
    # not analysed yet
    assert api.get(f"/videos/{ingest.pk}/analysis").json() == {"status": "queued", "reused": False, "analysis": None}
    resp = api.get(f"/videos/{ingest.pk}/suggestions")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_ready"
    resp = api.post(f"/videos/{ingest.pk}/suggestions/recompute")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_analyzed"
    assert api.get(f"/videos/{ingest.pk}/renders").json() == {"results": []}


def test_repeated_submission_returns_the_same_ingest(api, clip_mp4):
    first = _upload(api, clip_mp4)
    again = _upload(api, clip_mp4, name="other-name.mp4")
    assert again.status_code == 200 and again.json()["reused"] is True
    assert again.json()["video"]["id"] == first.json()["video"]["id"]
    assert VideoIngest.objects.count() == 1 and Job.objects.count() == 1
    # different options are a new submission (the analysis will be reused by sha256)
    other = _upload(api, clip_mp4, aspect="1:1")
    assert other.status_code == 202 and VideoIngest.objects.count() == 2


def test_own_music_is_linked_and_another_artists_is_404(api, user, other_user, clip_mp4, settings):
    mine = MusicAsset.objects.create(
        owner=user, artist=user.artist, title="m", sha256="a" * 64, file="x", size_bytes=1, format="wav", duration=10
    )
    theirs = MusicAsset.objects.create(
        owner=other_user,
        artist=other_user.artist,
        title="t",
        sha256="b" * 64,
        file="y",
        size_bytes=1,
        format="wav",
        duration=10,
    )
    resp = _upload(api, clip_mp4, music_id=str(theirs.pk))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    _nothing_stored(settings)
    resp = _upload(api, clip_mp4, music_id=str(mine.pk))
    assert resp.status_code == 202 and resp.json()["video"]["music_id"] == str(mine.pk)
    assert Job.objects.get(pk=resp.json()["job"]["id"]).music_asset_id == mine.pk


def test_hls_playlist_renamed_mp4_is_refused(api, tmp_path, settings):
    seg = tmp_path / "seg0.ts"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=160x120",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(seg),
        ],
        check=True,
    )
    playlist = tmp_path / "video.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{seg}\n#EXT-X-ENDLIST\n")
    resp = _upload(api, playlist)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] in ("unsupported_format", "unreadable_media")
    _nothing_stored(settings)


def test_audio_file_is_not_a_video(api, tmp_path, settings):
    wav = tmp_path / "a.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=duration=3", str(wav)], check=True)
    resp = _upload(api, wav, name="a.mp4")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "no_video_stream"
    _nothing_stored(settings)


def test_video_over_duration_cap_is_refused(api, clip_mp4, settings):
    settings.VIDEO_MAX_DURATION_S = 3
    resp = _upload(api, clip_mp4)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "too_long"
    _nothing_stored(settings)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"aspect": "16:9", "source_url": "https://example.com/a.mp4"},
        {"target_length_s": 5, "source_url": "https://example.com/a.mp4"},
    ],
)
def test_validation_errors(api, data, settings):
    resp = _post(api, data)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid"
    _nothing_stored(settings)


def test_file_and_url_together_is_invalid(api, clip_mp4, settings):
    resp = _post(api, {"file": SimpleUploadedFile("a.mp4", clip_mp4.read_bytes()), "source_url": "https://e.com/a.mp4"})
    assert resp.status_code == 400 and "non_field_errors" in str(resp.json()["error"]["details"])
    _nothing_stored(settings)


@pytest.mark.parametrize(
    "url,code",
    [
        ("http://127.0.0.1:9/video.mp4", "unsafe_url"),
        ("http://[::ffff:127.0.0.1]/video.mp4", "unsafe_url"),
        ("http://169.254.169.254/latest/meta-data/", "unsafe_url"),
        ("http://10.1.2.3/v.mp4", "unsafe_url"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://example.com/video.mp4", "unsupported_scheme"),
    ],
)
def test_unsafe_urls_are_refused_with_400_and_nothing_stored(api, url, code, settings):
    resp = _post(api, {"source_url": url}, fmt="json")
    assert resp.status_code == 400, resp.json()
    assert resp.json()["error"]["code"] == code
    _nothing_stored(settings)


def test_other_artists_video_is_404(api, anon_api, make_artist, clip_mp4):
    _, token = make_artist("zoe")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    video_id = _upload(anon_api, clip_mp4).json()["video"]["id"]
    for url in ("", "/analysis", "/suggestions", "/renders"):
        assert api.get(f"/videos/{video_id}{url}").status_code == 404
    assert api.post(f"/videos/{video_id}/suggestions/recompute").status_code == 404
    assert api.get("/videos").json()["count"] == 0


def _incoming_empty(settings) -> bool:
    incoming = Path(settings.WORK_DIR) / "incoming"
    return not incoming.exists() or list(incoming.iterdir()) == []


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "Infinity", "1e999"])
def test_non_finite_target_length_is_400_naming_the_field_and_nothing_stored(api, clip_mp4, settings, value):
    """Given a valid upload, when target_length_s is not a finite number, then 400 before anything is stored."""
    resp = _upload(api, clip_mp4, target_length_s=value)
    assert resp.status_code == 400, resp.content
    error = resp.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"] == {"target_length_s": ["A finite number is required."]}
    _nothing_stored(settings)
    assert _incoming_empty(settings)


def test_database_error_after_the_store_removes_the_stored_file(api, clip_mp4, settings, monkeypatch):
    """Given the ingest row was written and the file stored, when creating the job fails in the
    database, then the transaction rolls back, the stored file is deleted and the temp file is gone."""
    from django.db import DatabaseError

    import jobs.services

    seen: dict[str, object] = {}

    def failing_job_create(**kwargs):
        seen["ingests_inside"] = VideoIngest.objects.count()
        seen["stored_inside"] = _stored(settings)
        raise DatabaseError("injected: connection lost")

    monkeypatch.setattr(jobs.services, "job_create", failing_job_create)
    with pytest.raises(DatabaseError, match="injected"):
        _upload(api, clip_mp4)
    assert seen["ingests_inside"] == 1 and len(seen["stored_inside"]) == 1  # the failure came after the store
    _nothing_stored(settings)
    assert _incoming_empty(settings)
    from jobs.dispatch import get_queue

    assert get_queue("heavy").count == 0


def test_truncated_faststart_upload_stores_the_decodable_duration(api, tmp_path, settings):
    """Given a 24 s +faststart mp4 cut to 10 % (its header still claims 24 s), when uploaded,
    then the stored duration is the part that really decodes (±0.5 s), not the claim."""
    full = tmp_path / "full.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=24",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=24", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(full)],
        check=True,
    )  # fmt: skip
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 10])
    decoded = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "quiet", "-i", str(cut), "-f", "null", "-", "-progress", "pipe:1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    decodable = max(int(ln.split("=")[1]) for ln in decoded.splitlines() if ln.startswith("out_time_us=")) / 1e6
    resp = _upload(api, cut)
    assert resp.status_code == 202, resp.json()
    assert resp.json()["video"]["duration"] == pytest.approx(decodable, abs=0.5)
    ingest = VideoIngest.objects.get()
    assert ingest.duration == pytest.approx(decodable, abs=0.5) and ingest.probe["duration_claimed"] == 24.0


def test_enqueue_failure_after_the_store_removes_the_stored_file(api, clip_mp4, settings, monkeypatch):
    """Given the rows were written and the file stored, when registering the enqueue fails, then
    the rows roll back and the stored and temp files are deleted."""
    import jobs.dispatch

    def broken_enqueue(*, job):
        raise RuntimeError("injected: queue unavailable")

    monkeypatch.setattr(jobs.dispatch, "job_enqueue", broken_enqueue)
    with pytest.raises(RuntimeError, match="injected"):
        _upload(api, clip_mp4)
    _nothing_stored(settings)
    assert _incoming_empty(settings)


# --- the framing and captions options (reframe: auto | faces | center | fit, earlier spellings
# mapped; captions default on), stored in the ingest's options; bad values are a 400 -------------


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
def test_bad_framing_options_are_a_400_and_store_nothing(api, clip_mp4, settings, field):
    resp = _upload(api, clip_mp4, **field)
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"]["code"] and next(iter(field)) in str(body["error"])
    _nothing_stored(settings)
