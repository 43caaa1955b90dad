"""Rate limiting on the shared (Redis) cache via django-ratelimit.

``upload_ratelimit`` (upload views) and ``recompute_ratelimit`` (suggestion
recomputes) are the decorators; a request over the limit gets 429 with
``Retry-After`` and the standard error body, and the view body never runs (so
nothing is stored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_ratelimit.core import get_usage

from fala_clip.api.errors import error_body

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/h"`` -> (30, 3600); ``"5/10m"`` -> (5, 600)."""
    m = re.fullmatch(r"(\d+)/(\d*)([smhd])", rate.strip())
    if not m:
        raise ValueError(f"invalid rate {rate!r}; expected like '30/h' or '5/10m'")
    count, mult, unit = m.groups()
    return int(count), int(mult or 1) * _UNITS[unit]


def _user_or_ip(group: str, request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def ratelimited_view(
    request: HttpRequest,
    exception: Exception | None = None,
    retry_after: int | None = None,
    *,
    setting: str = "UPLOAD_RATE_LIMIT",
    message: str = "Too many uploads; try again later.",
) -> JsonResponse:
    rate = getattr(settings, setting)
    if retry_after is None:
        _, retry_after = parse_rate(rate)
    resp = JsonResponse(error_body("rate_limited", message, {"limit": rate}), status=429)
    resp["Retry-After"] = str(max(1, int(retry_after)))
    return resp


def _ratelimit(group: str, setting: str, message: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for a DRF view method (``post``) limited by ``settings.<setting>`` per user.

    Applied to the DRF method (after authentication ran) so the key is the
    user, not the IP.  The limit is read at request time so tests and
    operators can change it without a restart.
    """

    def decorate(view_method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            usage = get_usage(
                request, group=group, key=_user_or_ip, rate=getattr(settings, setting), method="POST", increment=True
            )
            if usage is not None and usage["should_limit"]:
                return ratelimited_view(request, retry_after=usage["time_left"], setting=setting, message=message)
            return view_method(self, request, *args, **kwargs)

        wrapper.__name__ = view_method.__name__
        wrapper.__doc__ = view_method.__doc__
        return wrapper

    return decorate


#: Uploads (POST /music, POST /videos): ``UPLOAD_RATE_LIMIT``.
upload_ratelimit = _ratelimit("upload", "UPLOAD_RATE_LIMIT", "Too many uploads; try again later.")
#: Suggestion recomputes (POST /videos/{id}/suggestions/recompute): ``RECOMPUTE_RATE_LIMIT``.
recompute_ratelimit = _ratelimit("recompute", "RECOMPUTE_RATE_LIMIT", "Too many recomputes; try again later.")
