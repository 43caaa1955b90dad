"""The job event stream behind ``GET /jobs/{id}/events`` (Server-Sent Events).

One SSE event per ``JobEvent`` row, in id order, ``id:`` = the row's id:

=============================  ============
row                            ``event:``
=============================  ============
transition to ``done``         ``done`` (its data carries the job's links)
transition to ``failed``       ``failed`` (its data carries the error)
any other transition           ``status``
``stage``                      ``stage``
``progress``                   ``progress``
``retry``/``error``/``info``   ``status``
=============================  ============

The stream polls PostgreSQL (one indexed query on ``(job_id, id)``) every
``SSE_POLL_INTERVAL_S`` rather than listening on Redis: the rows are the truth,
a resumed stream (``Last-Event-ID``) must replay from them anyway, and a
poll costs well under a millisecond.  Production web workers are gunicorn
*sync* workers, so a stream holds a whole worker: it ends after the job's
``done``/``failed`` event, or after ``SSE_MAX_STREAM_S`` with a comment, and
starts with a ``retry:`` hint so the browser's ``EventSource`` reconnects with
``Last-Event-ID`` and loses nothing.  A heartbeat comment every
``SSE_HEARTBEAT_S`` keeps proxies from closing an idle connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from fala_clip.scrub import scrub_text
from jobs.models import TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.serializers import job_error_body

log = logging.getLogger(__name__)

#: Rows sent per query: a long job's backlog goes out in a few round trips.
BATCH = 200


def parse_last_event_id(value: str | None) -> int:
    """The id to resume after; anything that is not a non-negative integer means "from the start"."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 18 else 0


def _event_name(row: JobEvent) -> str:
    if row.type == JobEvent.Type.TRANSITION:
        if row.to_status == JobStatus.DONE:
            return "done"
        if row.to_status == JobStatus.FAILED:
            return "failed"
        return "status"
    if row.type in (JobEvent.Type.STAGE, JobEvent.Type.PROGRESS):
        return str(row.type)
    return "status"


def _frame(event_id: int, name: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def _status_before(job_id: Any, after_id: int) -> str:
    """The job's status as of event ``after_id`` (what a resumed stream starts from)."""
    row = (
        JobEvent.objects.filter(job_id=job_id, type=JobEvent.Type.TRANSITION, id__lte=after_id)
        .order_by("-id")
        .values_list("to_status", flat=True)
        .first()
    )
    return row or ""


def job_event_stream(
    *,
    job: Job,
    after_id: int = 0,
    links: Callable[[Job], dict[str, str]],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield SSE frames for ``job``'s events after ``after_id`` until done/failed or the time cap."""
    started = clock()
    deadline = started + settings.SSE_MAX_STREAM_S
    last_sent = started
    status = _status_before(job.pk, after_id) if after_id else ""
    stage = ""
    # Told up front, so a client that loses the connection at any point waits this long.
    yield f"retry: {int(settings.SSE_RETRY_MS)}\n\n"
    # A job that had already ended when the stream opened: replay what is left and stop.
    ended_before = job.status in TERMINAL_STATUSES
    try:
        while True:
            rows = list(JobEvent.objects.filter(job_id=job.pk, id__gt=after_id).order_by("id")[:BATCH])
            for row in rows:
                after_id = row.id
                name = _event_name(row)
                if row.type == JobEvent.Type.TRANSITION and row.to_status:
                    status = row.to_status
                if row.stage:
                    stage = row.stage
                data: dict[str, Any] = {
                    "job_id": str(job.pk),
                    "type": row.type,
                    "status": status,
                    "stage": stage,
                    "at": row.created_at.isoformat().replace("+00:00", "Z"),
                }
                if row.message:
                    data["message"] = scrub_text(row.message)  # no server path reaches the artist
                if row.type == JobEvent.Type.PROGRESS:
                    data["progress"] = row.data
                if name in ("done", "failed"):
                    job.refresh_from_db()
                    data["progress"] = job.progress
                    data["links"] = links(job)
                    if name == "failed":
                        data["error"] = job_error_body(job)
                yield _frame(row.id, name, data)
                last_sent = clock()
                if name in ("done", "failed"):
                    return
            if len(rows) == BATCH:
                continue
            if ended_before:
                return
            now = clock()
            if now >= deadline:
                yield f": stream closed after {settings.SSE_MAX_STREAM_S:g} s; reconnect with Last-Event-ID\n\n"
                return
            if now - last_sent >= settings.SSE_HEARTBEAT_S:
                yield ": heartbeat\n\n"
                last_sent = now
            sleep(min(settings.SSE_POLL_INTERVAL_S, max(0.0, deadline - now)))
    except DatabaseError:
        # PostgreSQL went away mid-stream: end it (the client reconnects after ``retry``) and
        # drop the dead connection so this worker's next request opens a fresh one.
        log.warning("job %s event stream ended: database error", job.pk, exc_info=True)
        connection.close()
        yield ": database unavailable; reconnect with Last-Event-ID\n\n"
