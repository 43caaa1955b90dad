"""Receiving an upload: the copy and its sha256 made side by side, in order, with the size cap."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.core.files import File

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
