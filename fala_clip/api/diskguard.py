"""507 Insufficient Storage for uploads, up front and when the disk fills mid-upload.

``upload_space_guard`` wraps an upload view method (``post``) under its rate
limit: before the body is read it checks that every filesystem the upload is
written to keeps ``UPLOAD_MIN_FREE_BYTES`` free after the declared
``Content-Length``; a disk that fills anyway while the body is spooled or
stored (``OSError(ENOSPC)``) becomes the same 507 in the project's error shape,
never Django's 500 page.  What the request wrote is removed where it is written
(``receive_upload``, ``store_file``; Django deletes its spool file when the
request's upload handler is released) and the cleaner sweeps ``WORK_DIR/incoming``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import JsonResponse

from fala_clip.api.errors import error_body
from fala_clip.diskspace import UPLOAD_DISK_FULL_MESSAGE, is_disk_full, upload_space_shortfall

log = logging.getLogger(__name__)


def insufficient_storage(details: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(error_body("insufficient_storage", UPLOAD_DISK_FULL_MESSAGE, details or {}), status=507)


def _declared_length(request: Any) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class SpoolUploadHandler(TemporaryFileUploadHandler):
    """Django's spool-to-disk upload handler that survives a full disk.

    Django's own raises ``OSError(ENOSPC)`` from the middle of the body and leaves
    the rest unread (the client sees a reset instead of an answer).  This one
    deletes its spool file, marks the request and stops the upload while reading
    (and discarding) the rest of the body, so the guard answers 507.
    """

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        try:
            self.file.write(raw_data)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            log.error("upload spool: disk full: %s", exc)
            with contextlib.suppress(OSError):
                os.unlink(self.file.temporary_file_path())
            with contextlib.suppress(OSError):
                self.file.close()
            self.request.upload_disk_full = True  # type: ignore[union-attr]  # read by upload_space_guard
            raise StopUpload(connection_reset=False) from exc
        return None


def upload_space_guard(view_method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        shortfall = upload_space_shortfall(_declared_length(request))
        if shortfall is not None:
            log.warning("upload refused: low disk space %s", shortfall)
            return insufficient_storage(shortfall)
        try:
            # Read (spool) the body here, before the view: a disk that fills meanwhile is
            # answered 507 rather than as a missing file.
            request.data  # noqa: B018 - parsing is the point
            if getattr(getattr(request, "_request", request), "upload_disk_full", False):
                return insufficient_storage()
            return view_method(self, request, *args, **kwargs)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            log.error("upload failed: disk full: %s", exc)
            return insufficient_storage()

    wrapper.__name__ = view_method.__name__
    wrapper.__doc__ = view_method.__doc__
    return wrapper
