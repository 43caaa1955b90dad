"""A request id for every request: bound for its log lines, returned in ``X-Request-ID``.

``RequestIdMiddleware`` sits at the top of ``MIDDLEWARE`` (outside
``ApiErrorMiddleware``, so the JSON error responses, the 404s and the 413s that it
makes carry the header too) and

* takes the caller's ``X-Request-ID`` when it is sane — 1 to 64 characters of
  ``[A-Za-z0-9._-]`` — so a proxy's or a client's id follows the request; anything
  else (a newline, 200 characters, a quote) is replaced by a fresh ``uuid4`` hex,
  never echoed, so the header cannot inject into logs or responses;
* binds it (:func:`fala_clip.logging.bind`) while the request runs: every log line
  carries it, and a job created by the request stores it (``jobs.services.job_create``);
* returns it in the ``X-Request-ID`` response header;
* logs one access line per request on ``fala_clip.access``: method, path (no query
  string: it may hold tokens), status, duration_ms and user id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from fala_clip.logging import bind

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_log = logging.getLogger("fala_clip.access")


def request_id_from(request: HttpRequest) -> str:
    """The inbound id when it is sane, else a new uuid4 hex."""
    inbound = request.META.get(_META_KEY, "")
    if isinstance(inbound, str) and _SANE.fullmatch(inbound):
        return inbound
    return uuid.uuid4().hex


def _user_id(request: HttpRequest) -> int | None:
    """The authenticated user's id, without loading a user nobody asked for.

    ``request.user`` is lazy (session middleware); evaluating it here would cost a
    query per request that never looked at the user.  DRF's token authentication
    sets ``request.user`` on the underlying request, so API calls are covered.
    """
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", None)
    if wrapped is empty:
        return None
    if wrapped is not None:
        user = wrapped
    if not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return pk if isinstance(pk, int) else None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        with bind(request_id=request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            duration_ms = round((time.perf_counter() - t0) * 1000, 1)
            status = response.status_code
            user_id = _user_id(request)
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": user_id,
                },
            )
        return response
