"""OpenAPI post-processing: every operation documents the error responses it can give.

Errors share one component, ``Error`` (``{"error": {"code", "message",
"details"}}``), the shape ``fala_clip.api.errors`` and the error middleware
produce.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable error code."},
                "message": {"type": "string"},
                "details": {"description": "Field errors or context; an object, possibly empty."},
            },
        }
    },
}

_ALWAYS = {
    "400": "Invalid request (`invalid`: field errors in `details`).",
    "401": "Missing or bad credentials.",
    "403": "Not allowed (e.g. a session request without its CSRF token).",
    "404": "No such resource for this user (another artist's ids too), or a malformed id.",
}
_WITH_BODY = {
    "413": "The body, a form field or the file is too large (`too_large`).",
    "415": "Unsupported media type.",
    "429": "Rate limited (`rate_limited`); see `Retry-After`.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = dict(_ALWAYS)
            if method in ("post", "put", "patch"):
                codes.update(_WITH_BODY)
            for code, description in codes.items():
                operation["responses"].setdefault(code, {"description": description, "content": content})
    return result


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField()
    details = serializers.JSONField(help_text="Field errors or context; an object, possibly empty.")


class ErrorSerializer(serializers.Serializer):
    """Every error: ``{"error": {"code", "message", "details"}}``."""

    error = ErrorDetailSerializer()
