"""``Idempotency-Key`` on submissions: one mechanism for every POST that creates something.

A client that may retry (a dropped connection, a timeout) sends the same ``Idempotency-Key``
with the same request; the first successful answer is stored and any repeat within
``IDEMPOTENCY_TTL_S`` gets it back — same status, same body, plus ``Idempotent-Replayed: true``
— without the view running again (nothing created, nothing enqueued).

* **Scope**: a key belongs to one user and one operation (HTTP method + route pattern), so two
  artists, or one artist on two endpoints, never collide.
* **Same request**: the sha256 of the canonical request — the path parameters, then the JSON
  body, or the form fields with each uploaded file replaced by its sha256, size and name.  The
  same key with another request is 422 ``idempotency_key_reused`` and runs nothing.
* **Malformed key** (present but empty, over 200 characters, non-printable): 400 ``invalid``
  naming the header.  No header: the view runs as before.
* **Only successes are remembered.**  A 4xx or 5xx (or an exception) rolls the claim back with
  everything the view did, so a client may fix the request or retry a failed one with the same key
  (a rejected request changed nothing, so running it again is harmless).
* **Races**: the request claims the key by inserting its :class:`IdempotencyRecord` (unique on
  user, operation, key) *inside the transaction that runs the view*, and stores the response in
  the same transaction.  A second request with the key blocks on PostgreSQL's unique index until
  the first commits — then it reads the stored response and replays it (exactly one object is
  created, both clients get the same answer) — or rolls back, and then it runs itself.  It waits at
  most ``IDEMPOTENCY_WAIT_S`` (the ``lock_timeout`` of that insert); past that it is 409
  ``idempotency_key_in_progress`` with ``Retry-After``.  Because claim, objects and response commit
  together, a crash mid-request leaves no half-claimed key behind.
* **Expiry**: a record older than ``IDEMPOTENCY_TTL_S`` is ignored (the key acts as new) and is
  purged by the cleaner (:func:`idempotency_records_purge`).

Holding the transaction across the view means the view's own I/O (the ffprobe gate, storing the
upload) runs inside it; the rows it inserts are invisible to others until commit, which is the
point, and the wait is bounded by the upload itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from fala_clip.api.errors import ServiceError, error_body
from fala_clip.api.schema import ErrorSerializer
from fala_clip.media.uploads import uploaded_sha256
from fala_clip.models import IdempotencyRecord

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
#: Set to ``true`` on a response that repeats a stored first answer.
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
#: PostgreSQL's SQLSTATE for ``lock_timeout`` expiring (lock_not_available).
_LOCK_NOT_AVAILABLE = "55P03"

#: The header on an operation's OpenAPI description.
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"1 to {MAX_KEY_LENGTH} printable characters, chosen by the client, per operation. The same key with "
        "the same request within `IDEMPOTENCY_TTL_S` (24 h) answers the first success again (same status and "
        f"body, header `{REPLAYED_HEADER}: true`) and creates nothing; with another request it is 422 "
        "`idempotency_key_reused`; while the first is still running, a repeat waits for it (up to "
        "`IDEMPOTENCY_WAIT_S`, then 409 `idempotency_key_in_progress`). Only successes are remembered."
    ),
)

#: The error responses the header adds to an operation.
IDEMPOTENCY_RESPONSES: dict[int, Any] = {
    409: OpenApiResponse(
        ErrorSerializer, description="`idempotency_key_in_progress`: the first request with this key is still running."
    ),
    422: OpenApiResponse(
        ErrorSerializer, description="`idempotency_key_reused`: this key was used with a different request."
    ),
}


def idempotency_key(request: Request) -> str | None:
    """The request's key; ``None`` without the header; a malformed one is a 400 naming it."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = str(raw).strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ServiceError(
            "invalid",
            "The request is invalid.",
            {HEADER: [f"1 to {MAX_KEY_LENGTH} printable characters."]},
        )
    return key


def _operation(request: Request) -> str:
    match = request.resolver_match
    route = match.route if match is not None else request.path
    return f"{request.method} {route}"[:200]


def _field_value(value: Any) -> Any:
    if hasattr(value, "chunks"):  # an uploaded file: what it holds, not where Django put it
        return {"sha256": uploaded_sha256(value), "size": value.size, "name": value.name}
    return value


def request_digest(request: Request, path_params: dict[str, Any]) -> str:
    """sha256 of the canonical request: path parameters + JSON body or form fields and files."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict: form or multipart, files included by DRF
        body: Any = {name: [_field_value(v) for v in values] for name, values in data.lists()}
    else:
        body = data
    canonical = {"path": {k: str(v) for k, v in path_params.items()}, "body": body}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), cls=JSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


class _InProgress(Exception):
    """The key's first request did not finish within ``IDEMPOTENCY_WAIT_S``."""


class _Rollback(Exception):
    """Carries a response that is not remembered out of the transaction, rolling it back."""

    def __init__(self, response: Any):
        super().__init__("not remembered")
        self.response = response


def _set_lock_timeout(value: str) -> str:
    """``SET LOCAL lock_timeout``; returns the previous value."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [value])
        return str(cur.fetchone()[0])


def _is_lock_timeout(exc: OperationalError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == _LOCK_NOT_AVAILABLE or getattr(cause, "pgcode", None) == (
        _LOCK_NOT_AVAILABLE
    )


def _claim(*, user: Any, operation: str, key: str, digest: str) -> IdempotencyRecord:
    """A new record (no response yet: ours to fill) or the stored one to replay.

    Must run inside the request's transaction (see the module docstring).
    """
    scope = IdempotencyRecord.objects.filter(user=user, operation=operation, key=key)
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_S)
    # An expired record is as good as none: drop it so the key can be claimed again.
    scope.filter(created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            previous = None
            if connection.vendor == "postgresql":
                previous = _set_lock_timeout(f"{int(settings.IDEMPOTENCY_WAIT_S * 1000)}ms")
            # Blocks while another transaction holds an uncommitted claim on the same key.
            record = IdempotencyRecord.objects.create(user=user, operation=operation, key=key, request_hash=digest)
            if previous is not None:
                _set_lock_timeout(previous)
            return record
    except IntegrityError:
        pass  # committed by an earlier request: read it below
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise _InProgress() from exc
        raise
    existing = scope.first()
    if existing is None or existing.response_status is None:
        # Purged between our insert and this read (or written by a buggy caller): ask for a retry.
        raise _InProgress()
    if existing.request_hash != digest:
        raise ServiceError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
            status_code=422,
        )
    return existing


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(json.loads(record.response_body), status=record.response_status)
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view_method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a DRF view method (``post``) to honour ``Idempotency-Key``.

    Put it above the rate-limit decorator: a replay runs nothing, so it spends no budget.
    """

    @wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        key = idempotency_key(request)
        if key is None or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        operation = _operation(request)
        digest = request_digest(request, kwargs)
        try:
            with transaction.atomic():
                record = _claim(user=request.user, operation=operation, key=key, digest=digest)
                if record.response_status is not None:
                    return _replay(record)
                response = view_method(self, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    raise _Rollback(response)
                if isinstance(response, Response):
                    body = json.dumps(response.data, cls=JSONEncoder)
                    IdempotencyRecord.objects.filter(pk=record.pk).update(
                        response_status=response.status_code, response_body=body
                    )
                else:  # not a DRF response: nothing to replay from, so the key is not kept
                    log.warning("idempotency: %s answered a non-DRF response; key not kept", operation)
                    IdempotencyRecord.objects.filter(pk=record.pk).delete()
                return response
        except _Rollback as rollback:
            return rollback.response
        except _InProgress:
            busy = Response(
                error_body(
                    "idempotency_key_in_progress",
                    "A request with this Idempotency-Key is still running; retry shortly.",
                ),
                status=409,
            )
            busy["Retry-After"] = "1"
            return busy

    return wrapper


def idempotency_records_purge() -> int:
    """Delete the records older than ``IDEMPOTENCY_TTL_S`` (already ignored); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_S)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
