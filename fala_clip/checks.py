"""Start-up validation of every enumerated or parsed setting (Django system checks).

``fala_clip.settings.strict_env`` already refuses values of the wrong type
(``DEBUG=Ture``, ``RENDER_CRF=2O``, ``VIDEO_MAX_FPS=nan``) when the settings
are read.  These checks cover what a type cannot say: enumerations
(``SHOT_DETECTOR=fats``), syntaxes (``UPLOAD_RATE_LIMIT=3/x``), ranges, the
relation between the heartbeat and the stale threshold, and dotted paths
registered in settings code (``PROFILE_LAYER_PROVIDERS``, ``JOB_HANDLERS``).
They run on ``manage.py check`` and before ``migrate``, ``worker``,
``scheduler`` and every other management command, so a typo stops the service
at start-up, naming the variable, instead of failing inside a job or request.
Each message names the environment variable (or the setting, for the lists
registered in code).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

SHOT_DETECTORS = ("fast", "transnetv2")
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
# ffmpeg's loudnorm accepts integrated loudness targets in this range.
LOUDNORM_RANGE = (-70.0, -5.0)

# Settings that must be a finite number > 0.
POSITIVE = (
    "HEAVY_WORKERS_PER_HOST",
    "WORKER_MAINTENANCE_INTERVAL_S",
    "JOB_HEARTBEAT_INTERVAL_S",
    "JOB_STALE_AFTER_S",
    "JOB_MAX_ATTEMPTS",
    "JOB_REQUEUE_AFTER_S",
    "CLEANUP_INTERVAL_S",
    "MAX_UPLOAD_BYTES",
    "API_MAX_JSON_BYTES",
    "MUSIC_MAX_DURATION_S",
    "MUSIC_MAX_BYTES",
    "VIDEO_MAX_DURATION_S",
    "VIDEO_MAX_BYTES",
    "VIDEO_MAX_WIDTH",
    "VIDEO_MAX_HEIGHT",
    "VIDEO_MAX_FPS",
    "MEDIA_MAX_STREAMS",
    "DOWNLOAD_TIMEOUT_S",
    "WHISPER_BEAM_SIZE",
    "WHISPER_CPU_THREADS",
    "AWS_QUERYSTRING_EXPIRE",
    "IDEMPOTENCY_TTL_S",
    "IDEMPOTENCY_WAIT_S",
    "ADMIN_LOGIN_COOLOFF_S",
)
# Settings that must be a finite number >= 0.
NON_NEGATIVE = ("WORKSPACE_RETENTION_S", "SECURE_HSTS_SECONDS", "SUGGESTION_HISTORY_KEEP", "TRUSTED_PROXY_COUNT")


def _error(var: str, value: Any, why: str, n: int) -> Error:
    return Error(f"{var}={value!r}: {why}", hint=f"Fix the {var} environment variable.", id=f"fala_clip.E{n:03d}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_numbers() -> Iterable[Error]:
    for name in POSITIVE:
        if hasattr(settings, name):
            value = getattr(settings, name)
            if not (_number(value) and value > 0):
                yield _error(name, value, "must be a number greater than 0", 6)
    for name in NON_NEGATIVE:
        if hasattr(settings, name):
            value = getattr(settings, name)
            if not (_number(value) and value >= 0):
                yield _error(name, value, "must be a number >= 0", 7)
    timeout: Any = settings.RQ_QUEUES.get("heavy", {}).get("DEFAULT_TIMEOUT")
    if not (_number(timeout) and timeout > 0):
        yield _error("HEAVY_JOB_TIMEOUT_S", timeout, "must be a number greater than 0", 6)
    limit = getattr(settings, "AXES_FAILURE_LIMIT", 1)  # django-axes' name for ADMIN_LOGIN_FAILURE_LIMIT
    if not (_number(limit) and limit >= 1):
        yield _error("ADMIN_LOGIN_FAILURE_LIMIT", limit, "must be a number greater than 0", 6)
    beat, stale = settings.JOB_HEARTBEAT_INTERVAL_S, settings.JOB_STALE_AFTER_S
    if _number(beat) and _number(stale) and stale <= beat:
        yield _error(
            "JOB_STALE_AFTER_S",
            stale,
            f"must be greater than JOB_HEARTBEAT_INTERVAL_S={beat!r}, or every running job looks abandoned",
            8,
        )
    gap = settings.MIN_START_GAP_S
    if not (_number(gap) and gap >= 5):
        yield _error("MIN_START_GAP_S", gap, "must be a number >= 5 (clip starts are at least 5 s apart)", 12)


def _check_choices() -> Iterable[Error]:
    if settings.SHOT_DETECTOR not in SHOT_DETECTORS:
        yield _error("SHOT_DETECTOR", settings.SHOT_DETECTOR, f"must be one of {', '.join(SHOT_DETECTORS)}", 1)
    # django-ratelimit itself reads "3/x" as "3/s" (it matches a prefix); our
    # parse_rate (also used for Retry-After) needs the whole value to be valid.
    from fala_clip.api.ratelimit import parse_rate

    for name in (
        "UPLOAD_RATE_LIMIT",
        "VIDEO_UPLOAD_RATE_LIMIT",
        "MUSIC_UPLOAD_RATE_LIMIT",
        "RECOMPUTE_RATE_LIMIT",
        "FEEDBACK_RATE_LIMIT",
    ):
        rate = getattr(settings, name)
        if rate == "" and name.endswith("_UPLOAD_RATE_LIMIT") and name != "UPLOAD_RATE_LIMIT":
            continue  # empty: the upload budget takes UPLOAD_RATE_LIMIT
        try:
            count, period_s = parse_rate(rate)
        except (ValueError, AttributeError):
            count = period_s = 0
        if count < 1 or period_s < 1:
            yield _error(
                name,
                rate,
                "must be N/period with N >= 1 and period s, m, h or d, optionally with a multiplier (30/h, 5/10m)",
                2,
            )
    if settings.RENDER_PRESET not in X264_PRESETS:
        yield _error("RENDER_PRESET", settings.RENDER_PRESET, f"must be an x264 preset: {', '.join(X264_PRESETS)}", 3)
    crf = settings.RENDER_CRF
    if not (isinstance(crf, int) and not isinstance(crf, bool) and 0 <= crf <= 51):
        yield _error("RENDER_CRF", crf, "must be an integer from 0 to 51", 4)
    threads = settings.RENDER_THREADS
    if not (isinstance(threads, int) and not isinstance(threads, bool) and 0 <= threads <= 64):
        yield _error("RENDER_THREADS", threads, "must be an integer from 0 (3 per core) to 64", 13)
    lufs = settings.RENDER_LOUDNESS_LUFS
    lo, hi = LOUDNORM_RANGE
    if not (_number(lufs) and lo <= lufs <= hi):
        yield _error("RENDER_LOUDNESS_LUFS", lufs, f"must be a loudness from {lo:g} to {hi:g} LUFS", 5)
    level = settings.LOG_LEVEL
    if not (isinstance(level, str) and level in logging.getLevelNamesMapping()):
        yield _error("LOG_LEVEL", level, "must be a logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL", 9)


def _check_dotted(name: str, paths: Iterable[str], n: int) -> Iterable[Error]:
    for path in paths:
        try:
            target = import_string(path)
        except ImportError as exc:
            yield Error(f"{name} entry {path!r} cannot be imported: {exc}", id=f"fala_clip.E{n:03d}")
            continue
        if not callable(target):
            yield Error(f"{name} entry {path!r} is not callable", id=f"fala_clip.E{n:03d}")


@register("fala_clip")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every enumerated, ranged or dotted-path setting, with the variable named."""
    errors: list[CheckMessage] = [*_check_numbers(), *_check_choices()]
    providers = settings.PROFILE_LAYER_PROVIDERS
    if not isinstance(providers, list | tuple):
        message = f"PROFILE_LAYER_PROVIDERS={providers!r}: must be a list of dotted paths"
        errors.append(Error(message, id="fala_clip.E010"))
    else:
        errors.extend(_check_dotted("PROFILE_LAYER_PROVIDERS", providers, 10))
    errors.extend(_check_dotted("JOB_HANDLERS", settings.JOB_HANDLERS.values(), 11))
    errors.extend(_check_dotted("SUGGESTION_SET_LISTENERS", settings.SUGGESTION_SET_LISTENERS, 11))
    return errors
