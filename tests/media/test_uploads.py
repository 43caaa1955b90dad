"""Receiving an upload: the copy and its sha256 made side by side (a file in the kernel, a body in
memory a chunk at a time), the probe beside the hash, the size cap."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from fala_clip.api.errors import ServiceError
from fala_clip.media.uploads import UPLOAD_CHUNK, incoming_dir, receive_upload


@pytest.mark.parametrize("size", [1, UPLOAD_CHUNK - 1, UPLOAD_CHUNK, 3 * UPLOAD_CHUNK + 12345])
def test_the_copy_and_its_hash_are_the_uploaded_bytes(settings, tmp_path, size):
    settings.WORK_DIR = str(tmp_path / "work")
    data = os.urandom(size)
    src = tmp_path / "v.mp4"
    src.write_bytes(data)
    with src.open("rb") as fh:  # read a chunk at a time, as manage.py clip and a streamed upload are
        received = receive_upload(File(fh, name="v.mp4"), max_bytes=10 * UPLOAD_CHUNK)
    try:
        # the hash is of the chunks in their order (hashed in a second thread while written)
        assert received.sha256 == hashlib.sha256(data).hexdigest()
        assert received.size == size and received.path.read_bytes() == data
        assert received.path.parent == incoming_dir() and received.path.name != "v.mp4"
    finally:
        received.discard()


def test_an_upload_over_the_cap_leaves_nothing_behind(settings, tmp_path):
    settings.WORK_DIR = str(tmp_path / "work")
    src = tmp_path / "v.mp4"
    src.write_bytes(os.urandom(2 * UPLOAD_CHUNK + 1))
    with src.open("rb") as fh, pytest.raises(ServiceError) as err:
        upload = File(fh, name="v.mp4")
        upload.size = 1  # a declared size the body then exceeds: the cap is met while copying
        receive_upload(upload, max_bytes=2 * UPLOAD_CHUNK)
    assert err.value.code == "too_large" and err.value.status_code == 413
    assert list(incoming_dir().iterdir()) == []


def _data_file(tmp_path, size):
    data = os.urandom(size)
    src = tmp_path / "v.mp4"
    src.write_bytes(data)
    return src, data


def test_a_body_held_in_memory_is_copied_and_hashed_a_chunk_at_a_time(settings, tmp_path):
    settings.WORK_DIR = str(tmp_path / "work")
    data = os.urandom(2 * UPLOAD_CHUNK + 7)
    upload = SimpleUploadedFile("v.mp4", data)  # no file behind it: the chunked path
    seen = []
    received = receive_upload(upload, max_bytes=10 * UPLOAD_CHUNK, beside_hash=lambda p: seen.append(p.read_bytes()))
    try:
        assert received.sha256 == hashlib.sha256(data).hexdigest()
        assert received.size == len(data) and received.path.read_bytes() == data
        assert seen == [data]  # the probe beside the hash sees the whole copy
    finally:
        received.discard()


def test_a_spooled_upload_with_unflushed_bytes_is_received_whole(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.WORK_DIR = str(tmp_path / "work")
    data = os.urandom(UPLOAD_CHUNK + 3)
    upload = TemporaryUploadedFile("v.mp4", "video/mp4", len(data), None)
    try:
        upload.write(data)  # still partly in the writer's buffer: the descriptor path flushes it
        received = receive_upload(upload, max_bytes=10 * UPLOAD_CHUNK)
        try:
            assert received.path.read_bytes() == data
            assert received.sha256 == hashlib.sha256(data).hexdigest()
        finally:
            received.discard()
    finally:
        upload.close()


@pytest.mark.parametrize("err", [errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP])
def test_without_copy_file_range_the_copy_goes_through_user_space(settings, tmp_path, monkeypatch, err):
    settings.WORK_DIR = str(tmp_path / "work")
    src, data = _data_file(tmp_path, 2 * UPLOAD_CHUNK + 99)
    calls = []

    def refuse(*args, **kwargs):  # a filesystem or kernel without it (the call the OS refuses)
        calls.append(args)
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "copy_file_range", refuse)
    with src.open("rb") as fh:
        received = receive_upload(File(fh, name="v.mp4"), max_bytes=10 * UPLOAD_CHUNK)
    try:
        assert len(calls) == 1  # asked once, then the fallback for the whole file
        assert received.path.read_bytes() == data
        assert received.sha256 == hashlib.sha256(data).hexdigest()
    finally:
        received.discard()


def test_a_failure_beside_the_hash_leaves_nothing_behind(settings, tmp_path):
    settings.WORK_DIR = str(tmp_path / "work")
    src, data = _data_file(tmp_path, UPLOAD_CHUNK + 1)
    seen = []

    def probe(path):
        seen.append(path.read_bytes())
        raise RuntimeError("probe crashed")

    with src.open("rb") as fh, pytest.raises(RuntimeError, match="probe crashed"):
        receive_upload(File(fh, name="v.mp4"), max_bytes=10 * UPLOAD_CHUNK, beside_hash=probe)
    assert seen == [data]  # it ran on the complete copy
    assert list(incoming_dir().iterdir()) == []


def test_a_file_over_the_cap_on_disk_is_refused_before_any_copy(settings, tmp_path):
    settings.WORK_DIR = str(tmp_path / "work")
    src, _ = _data_file(tmp_path, UPLOAD_CHUNK + 1)
    with src.open("rb") as fh, pytest.raises(ServiceError) as err:
        upload = File(fh, name="v.mp4")
        upload.size = None  # undeclared: the file's own size is checked
        receive_upload(upload, max_bytes=UPLOAD_CHUNK)
    assert err.value.code == "too_large" and err.value.details["size"] == UPLOAD_CHUNK + 1
    assert list(incoming_dir().iterdir()) == []


@pytest.mark.django_db
def test_the_intake_gates_beside_the_hash_but_a_repeat_is_reused_first(settings, tmp_path):
    from fala_clip.media.intake import upload_intake
    from fala_clip.media.probe import MediaRejected

    settings.WORK_DIR = str(tmp_path / "work")
    src, data = _data_file(tmp_path, UPLOAD_CHUNK + 5)
    known = {hashlib.sha256(data).hexdigest(): "earlier"}
    gated = []

    def gate(path):
        gated.append(path.stat().st_size)
        raise MediaRejected("corrupt_media", "not a video")

    def intake():
        with src.open("rb") as fh:
            return upload_intake(
                uploaded=File(fh, name="v.mp4"),
                max_bytes=10 * UPLOAD_CHUNK,
                find_existing=lambda received: known.get(received.sha256),
                gate=gate,
                storage_key=lambda meta: "never/stored",
                create=lambda stored: pytest.fail("nothing is created"),
            )

    # an identical earlier submission is answered even though the gate (run on the complete
    # copy while the hash was computed) refused this one
    result = intake()
    assert (result.value, result.reused) == ("earlier", True) and gated == [len(data)]
    known.clear()
    with pytest.raises(ServiceError) as err:  # no earlier one: the gate's verdict, as a 400
        intake()
    assert err.value.code == "corrupt_media" and err.value.status_code == 400
    assert gated == [len(data), len(data)]  # probed once per submission
    assert list(incoming_dir().iterdir()) == []
