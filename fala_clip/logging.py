"""Structured logs: one JSON object per line, correlated by request id and job id.

Two context variables carry the ids of the work in progress:

* ``request_id``: set by :class:`fala_clip.api.request_id.RequestIdMiddleware` for one
  HTTP request (the ``X-Request-ID`` header, echoed in the response) and, by the job
  runner, for a job created by that request;
* ``job_id``: set by the job runner around a job's handler.

:func:`bind` sets them for a block; :class:`ContextFilter` (on the handlers in
``settings.LOGGING``) stamps them on every record, whichever logger wrote it, and
:class:`JsonFormatter` writes the record as one line::

    {"ts": "2026-12-03T09:30:00.123Z", "level": "INFO", "logger": "jobs.runner",
     "message": "...", "request_id": "3f2a...", "job_id": "9b1c...", "stage": "decode"}

Context variables follow the code across ``await`` but **not into a new thread**:
code that logs from a thread it starts must run the thread's target inside a copy
of the starting thread's context (:func:`run_in_context`, or
``contextvars.copy_context().run``).

Plain Python, no Django import: the settings module names these classes in
``LOGGING``, and every layer may import :func:`bind`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = [
    "bind",
    "current_request_id",
    "current_job_id",
    "run_in_context",
    "ContextFilter",
    "JsonFormatter",
    "TextFormatter",
]

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_job_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")
_VARS: dict[str, contextvars.ContextVar[str]] = {"request_id": _request_id, "job_id": _job_id}

T = TypeVar("T")


@contextlib.contextmanager
def bind(**ids: Any) -> Iterator[None]:
    """Bind ``request_id`` and/or ``job_id`` for the block (restored on exit).

    Values are stored as strings (a job's UUID is fine); ``None`` binds the empty
    string, i.e. "no id".  Any other keyword is a programming error.
    """
    unknown = set(ids) - set(_VARS)
    if unknown:
        raise TypeError(f"bind() got unknown ids: {', '.join(sorted(unknown))}")
    tokens = [(_VARS[name], _VARS[name].set("" if value is None else str(value))) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_request_id() -> str:
    """The request id bound in this context ('' when none)."""
    return _request_id.get()


def current_job_id() -> str:
    """The job id bound in this context ('' when none)."""
    return _job_id.get()


def run_in_context(target: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``target`` to run in a copy of the *calling* context (for ``threading.Thread``).

    ``threading.Thread(target=run_in_context(fn))`` lets ``fn``'s log lines carry the
    request and job ids of the thread that created it.
    """
    ctx = contextvars.copy_context()

    def _run(*args: Any, **kwargs: Any) -> T:
        return ctx.run(target, *args, **kwargs)

    return _run


class ContextFilter(logging.Filter):
    """Stamp ``request_id`` and ``job_id`` on every record (an explicit ``extra`` wins).

    Put it on the *handlers*: a logger's own filters do not see records that
    propagate up from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get()
        if not getattr(record, "job_id", None):
            record.job_id = _job_id.get()
        return True


#: Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "job_id",
    "taskName",  # Python 3.12+
    "ids",  # TextFormatter's
}


def _utc_iso(created: float) -> str:
    return dt.datetime.fromtimestamp(created, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601 UTC), level, logger, message, request_id,
    job_id (when bound), exc_info (when there is an exception), stack_info, and every
    JSON-serialisable ``extra`` field (others, such as Django's ``request``, are left out)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or _request_id.get() or None,
        }
        job_id = getattr(record, "job_id", "") or _job_id.get()
        if job_id:
            doc["job_id"] = str(job_id)
        if record.exc_info:
            doc["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc_info"] = record.exc_text
        if record.stack_info:
            doc["stack_info"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in doc and not key.startswith("_") and _json_safe(value):
                doc[key] = value
        # json.dumps escapes newlines and control characters: one event stays one line.  UTF-8
        # is kept readable; U+2028/U+2029 are escaped too (str.splitlines breaks on them).
        line = json.dumps(doc, ensure_ascii=False, default=str)
        return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class TextFormatter(logging.Formatter):
    """For a person at a terminal: ``time LEVEL logger [req=… job=…] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = []
        request_id = getattr(record, "request_id", "") or _request_id.get()
        job_id = getattr(record, "job_id", "") or _job_id.get()
        if request_id:
            ids.append(f"req={request_id}")
        if job_id:
            ids.append(f"job={job_id}")
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)
