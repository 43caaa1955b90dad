"""Django's error views (``handler400/403/404/500``) in the API's JSON error shape.

Pages that are HTML for people (the admin, django-rq's dashboard, the API
docs) keep Django's own error pages; everything else answers
``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from fala_clip.api.errors import error_body

#: Path prefixes served as HTML pages for people; their errors stay HTML.
HTML_PREFIXES = ("/admin/", "/django-rq/", "/api/docs/", "/api/redoc/")

#: status -> (code, message) for errors raised by Django itself (no view ran,
#: or a view outside DRF failed).
STATUS_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("too_large", "The request body is too large."),
    500: ("server_error", "Internal server error."),
}


def is_html_page(request: HttpRequest) -> bool:
    return request.path.startswith(HTML_PREFIXES)


def json_error(status: int, code: str | None = None, message: str | None = None, details: Any = None) -> JsonResponse:
    default_code, default_message = STATUS_ERRORS.get(status, ("error", "The request failed."))
    return JsonResponse(error_body(code or default_code, message or default_message, details), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_html_page(request):
        return defaults.bad_request(request, exception)
    return json_error(400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_html_page(request):
        return defaults.permission_denied(request, exception)
    return json_error(403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_html_page(request):
        return defaults.page_not_found(request, exception)
    return json_error(404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Never the exception text: it may carry paths, SQL or settings.
    if is_html_page(request):
        return defaults.server_error(request)
    return json_error(500)
