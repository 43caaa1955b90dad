"""Storage through Django STORAGES, including S3 against a real S3 protocol server.

The S3 path talks HTTP to moto's standalone server on 127.0.0.1 (a local
server speaking the S3 API), not to a patched client.
"""

from __future__ import annotations

import urllib.request

import pytest

from fala_clip.storage import delete_stored, open_stored, store_file, stored_url


@pytest.fixture
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_server):
    import uuid

    import boto3
    from django.core.files.storage import storages

    bucket = f"fala-test-{uuid.uuid4().hex[:12]}"  # moto's state is process-global: one bucket per test
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_QUERYSTRING_EXPIRE = 600
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.AWS_DEFAULT_ACL = None
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    storages._storages = {}  # settings changed: rebuild the backends
    yield client
    storages._storages = {}


def test_s3_store_read_signed_url_delete(s3_storage, tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"z" * 5000)
    name = store_file(src, "renders/u1/abc/variant-1.mp4")
    assert name == "renders/u1/abc/variant-1.mp4"
    head = s3_storage.head_object(Bucket=s3_storage.bucket, Key=name)
    assert head["ContentLength"] == src.stat().st_size
    with open_stored(name) as fh:
        assert fh.read() == src.read_bytes()
    url = stored_url(name)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    with urllib.request.urlopen(url) as resp:  # the signed URL really downloads it
        assert resp.read() == src.read_bytes()
    delete_stored(name)
    assert s3_storage.list_objects_v2(Bucket=s3_storage.bucket).get("KeyCount") == 0


def test_filesystem_store_by_default(settings, tmp_path):
    from django.core.files.storage import storages

    settings.MEDIA_ROOT = str(tmp_path / "media")
    storages._storages = {}
    src = tmp_path / "a.bin"
    src.write_bytes(b"hello")
    name = store_file(src, "music/1/track.mp3")
    assert (tmp_path / "media" / name).read_bytes() == b"hello"
    assert stored_url(name) == f"/media/{name}"
    assert src.exists()  # copied
    # move=True (the upload intake's received copy): renamed into place, nothing copied
    moved = tmp_path / "b.bin"
    moved.write_bytes(b"moved bytes")
    inode = moved.stat().st_ino
    name2 = store_file(moved, "videos/1/x/original.mp4", move=True)
    stored = tmp_path / "media" / name2
    assert stored.read_bytes() == b"moved bytes" and stored.stat().st_ino == inode and not moved.exists()
    storages._storages = {}


def test_s3_store_with_move_uploads_and_leaves_the_file(s3_storage, tmp_path):
    src = tmp_path / "upload.bin"
    src.write_bytes(b"z" * 3000)
    name = store_file(src, "videos/u1/v/original.mp4", move=True)
    with open_stored(name) as fh:
        assert fh.read() == b"z" * 3000
    assert src.exists()  # the caller discards it
    delete_stored(name)


@pytest.mark.django_db
def test_render_download_url_is_signed_on_s3(s3_storage, tmp_path, user, api):
    from jobs.services import job_create
    from rendering.models import RenderedVariant
    from suggestions.models import ClipModel, SuggestionSet
    from video.models import VideoIngest

    ingest = VideoIngest.objects.create(owner=user, artist=user.artist, source="upload", sha256="d" * 64, file="v")
    sset = SuggestionSet.objects.create(ingest=ingest, features_version="1")
    cm = ClipModel.objects.create(suggestion_set=sset, ingest=ingest, template="highlight", rank=1, start=0, end=15,
                                  duration=15, score=0.5)  # fmt: skip
    job = job_create(owner=user, kind="clip_pipeline")
    src = tmp_path / "v.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"q" * 100)
    name = store_file(src, f"renders/{user.pk}/{job.pk}/variant-1-highlight.mp4")
    RenderedVariant.objects.create(ingest=ingest, job=job, clip_model=cm, index=1, status="done", file=name)
    url = api.get(f"/videos/{ingest.pk}/renders").json()["results"][0]["download_url"]
    assert url.startswith(s3_storage.meta.endpoint_url) and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == src.read_bytes()


def test_a_stored_file_on_s3_has_no_local_path_and_is_copied_for_local_use(s3_storage, tmp_path):
    from fala_clip.storage import local_copy, stored_local_path

    src = tmp_path / "track.wav"
    src.write_bytes(b"RIFF" + b"w" * 3000)
    name = store_file(src, "music/u1/abc/original.wav")
    assert stored_local_path(name) is None  # nothing to read in place: callers that only peek skip it
    work = tmp_path / "work"
    work.mkdir()
    copy = local_copy(name, work, "music.wav")
    assert copy == work / "music.wav" and copy.read_bytes() == src.read_bytes()
