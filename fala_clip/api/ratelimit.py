"""Rate limiting on the shared (Redis) cache via django-ratelimit.

One decorator per budget, each counted per user: ``video_upload_ratelimit`` (POST /videos,
``VIDEO_UPLOAD_RATE_LIMIT``), ``music_upload_ratelimit`` (POST /music,
``MUSIC_UPLOAD_RATE_LIMIT``; both default to ``UPLOAD_RATE_LIMIT``), ``recompute_ratelimit``
(suggestion recomputes, ``RECOMPUTE_RATE_LIMIT``) and ``feedback_ratelimit`` (both feedback
kinds, ``FEEDBACK_RATE_LIMIT``).  A request over its budget gets 429 with ``Retry-After`` and
the standard error body, and the view body never runs (so nothing is stored).

When the limiter's Redis cannot be reached, each budget does what its
``RATELIMIT_*_ON_REDIS_DOWN`` setting says: ``open`` serves the request unlimited with a
warning log line (uploads and feedback: the row in PostgreSQL is the source of truth and
the reconciler enqueues its job once Redis is back, so refusing would only make the artist
send a large file again), ``closed`` answers 503 ``rate_limiter_unavailable`` with
``Retry-After`` and stores nothing (recompute: it runs the engine inside the web process and
loses nothing when refused).  See docs/operations.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from fala_clip.api.errors import error_body

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Retry-After of a refusal while the limiter is unreachable (a Redis restart takes seconds).
UNAVAILABLE_RETRY_AFTER_S = 30


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/h"`` -> (30, 3600); ``"5/10m"`` -> (5, 600)."""
    m = re.fullmatch(r"(\d+)/(\d*)([smhd])", rate.strip())
    if not m:
        raise ValueError(f"invalid rate {rate!r}; expected like '30/h' or '5/10m'")
    count, mult, unit = m.groups()
    return int(count), int(mult or 1) * _UNITS[unit]


def effective_rate(setting: str) -> str:
    """The rate of a budget: its own setting, or ``UPLOAD_RATE_LIMIT`` for an empty upload budget."""
    rate = str(getattr(settings, setting))
    if not rate and setting.endswith("_UPLOAD_RATE_LIMIT"):
        rate = str(settings.UPLOAD_RATE_LIMIT)
    return rate


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
    rate = effective_rate(setting)
    if retry_after is None:
        _, retry_after = parse_rate(rate)
    resp = JsonResponse(error_body("rate_limited", message, {"limit": rate}), status=429)
    resp["Retry-After"] = str(max(1, int(retry_after)))
    return resp


def limiter_unavailable_view() -> JsonResponse:
    resp = JsonResponse(
        error_body("rate_limiter_unavailable", "The service is briefly unavailable; try again shortly."), status=503
    )
    resp["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
    return resp


def _ratelimit(
    group: str, setting: str, message: str, *, on_redis_down: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for a DRF view method (``post``) limited by ``settings.<setting>`` per user.

    Applied to the DRF method (after authentication ran) so the key is the
    user, not the IP.  The limit is read at request time so tests and
    operators can change it without a restart.  ``on_redis_down`` names the
    setting (``open`` or ``closed``) that decides what an unreachable Redis means.
    """

    def decorate(view_method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            rate = effective_rate(setting)
            try:
                usage = get_usage(request, group=group, key=_user_or_ip, rate=rate, method="POST", increment=True)
            except RedisError as exc:
                # Django's Redis cache raises redis-py's ConnectionError (or TimeoutError)
                # when Redis is down; without this the request would end in a 500.
                mode = getattr(settings, on_redis_down)
                log.warning(
                    "rate limiter unavailable (%s: %s): %s %s %s",
                    type(exc).__name__,
                    exc,
                    request.method,
                    request.path,
                    "refused with 503" if mode == "closed" else "served without a limit",
                    extra={"ratelimit_group": group, "ratelimit_on_redis_down": mode},
                )
                if mode == "closed":
                    return limiter_unavailable_view()
                usage = None
            if usage is not None and usage["should_limit"]:
                return ratelimited_view(request, retry_after=usage["time_left"], setting=setting, message=message)
            return view_method(self, request, *args, **kwargs)

        wrapper.__name__ = view_method.__name__
        wrapper.__doc__ = view_method.__doc__
        return wrapper

    return decorate


#: POST /videos: ``VIDEO_UPLOAD_RATE_LIMIT`` (empty: ``UPLOAD_RATE_LIMIT``).
video_upload_ratelimit = _ratelimit(
    "video_upload",
    "VIDEO_UPLOAD_RATE_LIMIT",
    "Too many video uploads; try again later.",
    on_redis_down="RATELIMIT_UPLOAD_ON_REDIS_DOWN",
)
#: POST /music: ``MUSIC_UPLOAD_RATE_LIMIT`` (empty: ``UPLOAD_RATE_LIMIT``).
music_upload_ratelimit = _ratelimit(
    "music_upload",
    "MUSIC_UPLOAD_RATE_LIMIT",
    "Too many music uploads; try again later.",
    on_redis_down="RATELIMIT_UPLOAD_ON_REDIS_DOWN",
)
#: Suggestion recomputes (POST /videos/{id}/suggestions/recompute): ``RECOMPUTE_RATE_LIMIT``.
recompute_ratelimit = _ratelimit(
    "recompute",
    "RECOMPUTE_RATE_LIMIT",
    "Too many recomputes; try again later.",
    on_redis_down="RATELIMIT_RECOMPUTE_ON_REDIS_DOWN",
)
#: Feedback submissions (both kinds): ``FEEDBACK_RATE_LIMIT``.
feedback_ratelimit = _ratelimit(
    "feedback",
    "FEEDBACK_RATE_LIMIT",
    "Too much feedback; try again later.",
    on_redis_down="RATELIMIT_FEEDBACK_ON_REDIS_DOWN",
)
