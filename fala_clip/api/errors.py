"""One error shape for every API failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from fala_clip.scrub import scrub_data, scrub_text


class ServiceError(Exception):
    """A domain error a service raises and the API turns into a 4xx.

    Services never import DRF; the exception handler maps this to a response.
    """

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, details: Any = None, *, status_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
        if status_code is not None:
            self.status_code = status_code


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.Throttled: "rate_limited",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "invalid",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        # A service's message may carry a tool's words (ffprobe's last line): never our paths.
        return Response(error_body(exc.code, scrub_text(exc.message), scrub_data(exc.details)), status=exc.status_code)
    # Selectors raise ``Model.DoesNotExist`` for rows outside the caller's scope:
    # another artist's id is indistinguishable from a missing one (404).
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message = "The request is invalid."
        details = response.data
    else:
        data = response.data if isinstance(response.data, dict) else {}
        message = str(data.get("detail", exc))
        details = {}
    response.data = error_body(code, message, details)
    return response
