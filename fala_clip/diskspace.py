"""Free space on the work and media filesystems, and recognising "disk full".

Uploads are refused up front (507) when a filesystem they are written to has
less than ``UPLOAD_MIN_FREE_BYTES`` free after the declared body; a disk that
fills up anyway (mid-upload, mid-analysis, mid-render) surfaces as an
``OSError(ENOSPC)`` from Python or as ffmpeg's "No space left on device", which
:func:`is_disk_full` recognises through the chain of causes so the job can be
failed with ``disk_full`` and a message that names no server path.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from django.conf import settings

#: Shown to the artist (API) — no path, no command line; the detail goes to the logs.
DISK_FULL_MESSAGE = "The server ran out of disk space while processing this job. Please try again later."
UPLOAD_DISK_FULL_MESSAGE = "The server is low on disk space and cannot accept uploads right now. Try again later."

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# How ffmpeg (and other tools quoted in an error's text) say it.
_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` or any exception it was raised from means the disk is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        # ffmpeg's own words: in the message, or in the stderr a process error keeps.
        said = f"{exc} {getattr(exc, 'stderr_tail', '') or ''}"
        if any(text in said for text in _FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def upload_temp_dir() -> Path:
    """Where Django spools request bodies and where ``receive_upload`` writes (created on demand)."""
    path = Path(settings.FILE_UPLOAD_TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_filesystems() -> list[Path]:
    """One existing folder per filesystem an upload is written to (temp spool, incoming, media)."""
    from fala_clip.storage import is_remote_storage

    folders = [upload_temp_dir(), Path(settings.WORK_DIR)]
    if not is_remote_storage():
        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        folders.append(media)
    by_device: dict[int, Path] = {}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        by_device.setdefault(os.stat(folder).st_dev, folder)
    return list(by_device.values())


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on ``path``'s filesystem."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def upload_space_shortfall(declared_bytes: int) -> dict[str, int] | None:
    """``None`` when every upload filesystem keeps the floor after ``declared_bytes``; else the numbers.

    The details name no path (they are returned to the client).
    """
    floor = int(settings.UPLOAD_MIN_FREE_BYTES)
    needed = floor + max(int(declared_bytes), 0)
    for folder in upload_filesystems():
        free = free_bytes(folder)
        if free < needed:
            return {"free_bytes": free, "required_bytes": needed, "min_free_bytes": floor}
    return None
