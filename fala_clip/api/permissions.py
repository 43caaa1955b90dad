"""DRF permission classes of the infrastructure layer."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class ApiDocsAccess(BasePermission):
    """The schema and the docs pages (drf-spectacular's ``SERVE_PERMISSIONS``).

    Open while ``API_DOCS_PUBLIC`` (development).  Otherwise (production) for an
    authenticated user -- an artist's API token or a logged-in session: the docs describe
    the API they already use -- or ``Authorization: Bearer <API_DOCS_TOKEN>`` for a tool
    that fetches the schema.  Anyone else gets 401 in the JSON error shape.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        if user is not None and user.is_authenticated:
            return True
        token = settings.API_DOCS_TOKEN
        header = request.META.get("HTTP_AUTHORIZATION", "")
        return bool(
            token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode())
        )
