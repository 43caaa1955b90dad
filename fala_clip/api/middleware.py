"""Keep every API error in the JSON shape, whatever produced it, and cap bodies.

``ApiErrorMiddleware`` sits near the top of ``MIDDLEWARE`` and

* refuses a body over its cap with 413 *before anything reads it*: JSON,
  form and any other non-multipart body over ``API_MAX_JSON_BYTES``, a
  multipart upload over ``MAX_UPLOAD_BYTES`` (by ``Content-Length``; Django
  reads no more than that);
* turns ``RequestDataTooBig`` (a multipart field over
  ``DATA_UPLOAD_MAX_MEMORY_SIZE``) raised in a view into 413 instead of
  Django's 400 page;
* rewrites any error response that is not JSON — the URL resolver's 404
  (``/jobs/abc`` does not match ``<uuid:>``), Django's technical 404/500
  pages under ``DEBUG``, a 500 from a middleware — into the JSON shape.  The
  traceback was already logged by Django (``django.request``, with
  ``exc_info``); the body says only ``server_error``, never settings, paths or
  the exception text.

The admin, django-rq's dashboard and the API docs pages are HTML for people
and keep Django's pages (``fala_clip.api.views.HTML_PREFIXES``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from fala_clip.api.views import is_html_page, json_error

DEFAULT_MAX_JSON_BYTES = 1024 * 1024
#: Headers worth keeping when an error page is replaced by the JSON body.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_html_page(request):
            return self.get_response(request)
        refused = self._refuse_oversize_body(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = json_error(response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                replacement[header] = response[header]
        # Django logs each error response once (with the traceback for a 500);
        # the replacement must not be logged a second time.
        replacement._has_been_logged = getattr(response, "_has_been_logged", False)  # type: ignore[attr-defined]
        # The replaced response's resources are released with the one sent, not now:
        # HttpResponse.close() also sends request_finished, whose close_old_connections
        # would close the database connection in the middle of this request (in a test's
        # transaction, the connection the test runs on).
        replacement._resource_closers.append(response.close)  # type: ignore[attr-defined]
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig) and not is_html_page(request):
            return _too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "field")
        return None

    def _refuse_oversize_body(self, request: HttpRequest) -> HttpResponse | None:
        length = _content_length(request)
        if not length:
            return None
        if request.content_type == "multipart/form-data":
            cap = int(settings.MAX_UPLOAD_BYTES)
            kind = "upload"
        else:
            cap = int(getattr(settings, "API_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
            kind = "body"
        if length <= cap:
            return None
        return _too_large(cap, kind, size=length)


def _too_large(cap: int, kind: str, size: int | None = None) -> HttpResponse:
    what = {"field": "A form field", "upload": "The upload", "body": "The request body"}[kind]
    details: dict[str, int] = {"max_bytes": cap}
    if size is not None:
        details["size"] = size
    return json_error(413, "too_large", f"{what} exceeds {cap} bytes.", details)
