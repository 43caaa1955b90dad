"""Receiving uploads: stream to a private temp file while hashing, with a cap."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from fala_clip.api.errors import ServiceError

#: Bytes read, hashed and written at a time.
UPLOAD_CHUNK = 4 * 1024 * 1024


@dataclass
class ReceivedFile:
    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def incoming_dir() -> Path:
    d = Path(settings.WORK_DIR) / "incoming"
    d.mkdir(parents=True, exist_ok=True)
    return d


def receive_upload(uploaded: Any, *, max_bytes: int, beside_hash: Callable[[Path], None] | None = None) -> ReceivedFile:
    """Copy an uploaded file to ``WORK_DIR/incoming/<uuid>`` (never the client's name).

    ``beside_hash(path)``: called once the copy is complete while its sha256 is still being
    computed in a second thread (the intake probes the copy meanwhile); what it raises is
    raised here, after the hash thread has ended, and the copy is then removed.
    """
    if uploaded.size is not None and uploaded.size > max_bytes:
        raise _too_large(uploaded.size, max_bytes)
    if uploaded.size == 0:  # None: not declared, the copy counts
        raise ServiceError("empty_media", "The uploaded file is empty.")
    dest = incoming_dir() / uuid.uuid4().hex
    fd = _regular_file_fd(uploaded)
    try:
        if fd is not None:
            sha256, size = _receive_file(fd, dest, max_bytes, beside_hash)
        else:
            sha256, size = _receive_chunks(uploaded, dest, max_bytes, beside_hash)
    except BaseException:
        # Never leave a partial copy behind: a full disk (ENOSPC), an oversize body, a client gone.
        dest.unlink(missing_ok=True)
        raise
    return ReceivedFile(path=dest, sha256=sha256, size=size)


def _too_large(size: int, max_bytes: int) -> ServiceError:
    return ServiceError(
        "too_large",
        f"The file is {size} bytes; the limit is {max_bytes}.",
        {"size": size, "max_bytes": max_bytes},
        status_code=413,
    )


def _regular_file_fd(uploaded: Any) -> int | None:
    """The descriptor of a regular file behind ``uploaded`` (Django's spooled upload, a file
    opened by ``manage.py clip``), or None (a body held in memory, a pipe)."""
    f = getattr(uploaded, "file", uploaded)
    try:
        fd = f.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        if f.writable():
            f.flush()  # bytes still in the writer's buffer are part of the file
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return fd


def _receive_file(fd: int, dest: Path, max_bytes: int, beside_hash: Callable[[Path], None] | None) -> tuple[str, int]:
    """A regular file: copied inside the kernel (``copy_file_range``) while a second thread
    hashes it (``pread``); both release the GIL and neither moves the file's position.

    The hash cost most of the copy through Python (W5's 306-MB source: ~0.2 s of hashing;
    the copy through user space 0.4-0.8 s with a track's analysis child starting beside it,
    in the kernel ~0.1 s), so the two side by side cost about the hash; the intake's probe
    of the copy (``beside_hash``) runs within it too.
    """
    size = os.fstat(fd).st_size
    if size > max_bytes:
        raise _too_large(size, max_bytes)
    if size == 0:
        raise ServiceError("empty_media", "The uploaded file is empty.")
    digest = hashlib.sha256()

    def hash_all() -> int:
        done = 0
        while done < size:
            chunk = os.pread(fd, min(UPLOAD_CHUNK, size - done), done)
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
        return done

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-hash") as pool:
        hashing = pool.submit(hash_all)
        try:
            with dest.open("wb") as out:
                copied = _copy_range(fd, out.fileno(), size)
            if beside_hash is not None and copied == size:
                beside_hash(dest)
        finally:
            hashed = hashing.result()  # the thread ends before the copy may be removed
    if copied != size or hashed != size:
        raise ServiceError(
            "upload_changed",
            f"The file changed while it was received ({size} bytes, then {min(copied, hashed)}); send it again.",
            {"size": size},
        )
    return digest.hexdigest(), size


def _copy_range(src: int, dst: int, size: int) -> int:
    """Copy the first ``size`` bytes of ``src`` to ``dst``; the count copied (less: the file shrank)."""
    done = 0
    fast = True
    while done < size:
        if fast:
            try:
                n = os.copy_file_range(src, dst, size - done, done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                    raise
                fast = False  # a filesystem or kernel without it: through user space
                continue
        else:
            chunk = os.pread(src, min(UPLOAD_CHUNK, size - done), done)
            n = len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view) :]
        if n == 0:
            break
        done += n
    return done


def _receive_chunks(
    uploaded: Any, dest: Path, max_bytes: int, beside_hash: Callable[[Path], None] | None
) -> tuple[str, int]:
    """A body without a file behind it (held in memory): read a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    # Each chunk is hashed in a second thread while this one writes it (hashlib and the write
    # both release the GIL): the copy costs about the longer of the two instead of their sum,
    # and the hash still sees the chunks in order -- the next is handed over only when the
    # previous one is hashed.
    hashing: Future[None] | None = None
    with dest.open("wb") as fh, ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-hash") as pool:
        for chunk in uploaded.chunks(UPLOAD_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ServiceError(
                    "too_large", f"The file exceeds {max_bytes} bytes.", {"max_bytes": max_bytes}, status_code=413
                )
            if hashing is not None:
                hashing.result()
            hashing = pool.submit(digest.update, chunk)
            fh.write(chunk)
        fh.flush()
        if size == 0:
            raise ServiceError("empty_media", "The uploaded file is empty.")
        try:
            if beside_hash is not None:
                beside_hash(dest)
        finally:
            if hashing is not None:
                hashing.result()
    return digest.hexdigest(), size


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def uploaded_sha256(uploaded: Any) -> str:
    """sha256 of an uploaded file's content (Django's ``UploadedFile``), left rewound for the next reader."""
    digest = hashlib.sha256()
    for chunk in uploaded.chunks(1024 * 1024):
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()
