"""One upload intake for music and video: receive → dedupe → gate → store → rows → enqueue.

The gate probes the received copy while its sha256 is still being computed (the two side by
side); its verdict counts only after the dedupe found no earlier identical upload.

The domain app says *what* (how to find an earlier identical upload, which
gate, where to store, which rows to create); this module owns the order and
the clean-up, so both uploads behave the same:

* nothing is stored when the gate refuses the file (or dedupe answers);
* once the file is stored, any later failure — a database error creating the
  rows, an error registering the enqueue — deletes the stored file again
  before the error propagates, so storage never holds a file no row points at;
* the incoming temp file is always removed.

``create`` runs inside one transaction; jobs are enqueued on commit
(``jobs.dispatch.job_enqueue``), so a rolled-back intake enqueues nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, transaction

from fala_clip.api.errors import ServiceError
from fala_clip.media.uploads import ReceivedFile, receive_upload
from fala_clip.storage import delete_stored, store_file

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class StoredUpload:
    """What ``create`` gets: the stored name, the received file and the gate's metadata."""

    name: str
    received: ReceivedFile
    meta: dict[str, Any]
    original_filename: str


@dataclass(frozen=True)
class IntakeResult(Generic[T]):
    value: T
    reused: bool


def gate_error(exc: Any) -> ServiceError:
    """A ``MediaRejected`` as the API's error: 413 for size, else 400."""
    return ServiceError(exc.code, exc.message, exc.details, status_code=413 if exc.code == "too_large" else 400)


def upload_intake(
    *,
    uploaded: Any,
    max_bytes: int,
    find_existing: Callable[[ReceivedFile], T | None],
    gate: Callable[[Path], dict[str, Any]],
    storage_key: Callable[[dict[str, Any]], str],
    create: Callable[[StoredUpload], T],
    on_conflict: Callable[[ReceivedFile], T | None] | None = None,
) -> IntakeResult[T]:
    """Run one upload through the intake; see the module docstring.

    ``gate`` raises ``MediaRejected`` (turned into a 4xx ``ServiceError``).
    ``on_conflict`` is asked after an ``IntegrityError`` from ``create`` (a
    concurrent identical upload won the race): what it returns is answered as
    reused; ``None`` re-raises.
    """
    from fala_clip.media.probe import MediaRejected

    # The gate (ffprobe) runs on the copy while its sha256 is computed; what it found is
    # used, or raised, only once no identical earlier submission is there to reuse.
    gated: dict[str, Any] = {}

    def gate_beside_hash(path: Path) -> None:
        try:
            gated["meta"] = gate(path)
        except Exception as exc:  # noqa: BLE001 - raised below, after the reuse check
            gated["error"] = exc

    received = receive_upload(uploaded, max_bytes=max_bytes, beside_hash=gate_beside_hash)
    try:
        existing = find_existing(received)
        if existing is not None:
            return IntakeResult(value=existing, reused=True)
        try:
            if "error" in gated:
                raise gated["error"]
            meta = gated["meta"] if "meta" in gated else gate(received.path)
        except MediaRejected as exc:
            raise gate_error(exc) from exc
        # the received copy is discarded below: the filesystem backend moves it into place
        name = store_file(received.path, storage_key(meta), move=True)
        stored = StoredUpload(
            name=name,
            received=received,
            meta=meta,
            original_filename=(getattr(uploaded, "name", "") or "")[:255],
        )
        try:
            with transaction.atomic():
                value = create(stored)
        except BaseException as exc:
            _remove_stored(name)
            if isinstance(exc, IntegrityError) and on_conflict is not None:
                winner = on_conflict(received)
                if winner is not None:
                    return IntakeResult(value=winner, reused=True)
            raise
        return IntakeResult(value=value, reused=False)
    finally:
        received.discard()


def _remove_stored(name: str) -> None:
    try:
        delete_stored(name)
    except Exception:  # the original error matters more; say what is left behind
        log.exception("could not remove %s after a failed intake", name)
