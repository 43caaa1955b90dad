"""A full disk, in process: recognising it, the 507 floor on uploads, the incoming sweep.

The real full disks (a tmpfs filled mid-upload, mid-analysis, mid-render) are in
tests/faults/test_pg_disk_faults.py.
"""

from __future__ import annotations

import errno
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fala_clip.diskspace import DISK_FULL_MESSAGE, is_disk_full
from fala_clip.media.procs import ProcessError
from jobs.cleaner import cleanup_workspaces
from jobs.errors import DiskFull
from jobs.models import Job
from music.models import MusicAsset
from video.models import VideoIngest


def test_is_disk_full_follows_causes_and_ffmpeg_words():
    enospc = OSError(errno.ENOSPC, "No space left on device", "/srv/work/x.mp4")
    try:
        try:
            raise enospc
        except OSError as exc:
            raise RuntimeError("could not store") from exc
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    ffmpeg = ProcessError("ffmpeg exited with 1", cmd=["ffmpeg"], returncode=1, stderr_tail="")
    ffmpeg.stderr_tail = "[mp4 @ 0x1] av_interleaved_write_frame(): No space left on device\nConversion failed!\n"
    assert is_disk_full(ffmpeg)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("bad"))


def test_disk_full_error_names_no_path():
    err = DiskFull()
    assert err.code == "disk_full" and not err.retryable
    assert err.message == DISK_FULL_MESSAGE and "/" not in err.message


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/videos", "/music"])
def test_upload_below_the_floor_is_refused_with_507(api, settings, isolated_media, path):
    # Given a floor no disk can meet
    settings.UPLOAD_MIN_FREE_BYTES = 2**62
    settings.FILE_UPLOAD_TEMP_DIR = str(settings.WORK_DIR / "incoming")
    data = {"file": SimpleUploadedFile("s.mp4", b"x" * 1000), "title": "t"}
    # When an artist uploads
    resp = api.post(path, data, format="multipart")
    # Then 507 in the error shape, and nothing was created or written
    assert resp.status_code == 507
    body = resp.json()["error"]
    assert body["code"] == "insufficient_storage"
    assert body["details"]["min_free_bytes"] == 2**62
    assert body["details"]["required_bytes"] >= 2**62 + 1000  # the declared body counts
    assert str(settings.WORK_DIR) not in resp.content.decode()
    assert (VideoIngest.objects.count(), MusicAsset.objects.count(), Job.objects.count()) == (0, 0, 0)
    assert list((settings.WORK_DIR / "incoming").iterdir()) == []


@pytest.mark.django_db
def test_cleaner_sweeps_stale_incoming_files(settings, tmp_path):
    settings.WORK_DIR = tmp_path / "work"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    settings.INCOMING_GRACE_S = 600
    incoming, spool = tmp_path / "work" / "incoming", tmp_path / "spool"
    incoming.mkdir(parents=True)
    spool.mkdir()
    old, old_spool, fresh = incoming / "old", spool / "tmpabc.upload.mp4", incoming / "fresh"
    for f in (old, old_spool, fresh):
        f.write_bytes(b"x" * 100)
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(old_spool, (hour_ago, hour_ago))

    report = cleanup_workspaces()

    assert sorted(report.incoming_removed) == ["old", "tmpabc.upload.mp4"]
    assert not old.exists() and not old_spool.exists() and fresh.exists()
    assert "2 stale incoming files" in report.summary()
