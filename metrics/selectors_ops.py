"""Reads for the admin's Operations page (``metrics/admin.py``).

Three questions an operator asks at a glance, each answered by a fixed number of queries
(whatever the number of jobs, codes or artists):

* which jobs are over the SLA — queued or running for longer than ``JOB_SLA_S`` since they
  were submitted (``created_at``; a retry does not reset the clock) — oldest first;
* which failures happened recently, grouped by ``error_code`` over the last 24 hours and the
  last 7 days, each with its count and its latest example;
* what the LLM cost this calendar month (UTC), per artist and per track, from the
  ``llm_usage`` rows: sum of ``cost_usd``, requests and tokens, the 50 most expensive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, IntegerField, Max, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import Job, JobStatus
from learning.models import LlmUsage
from learning.usage import zero_usd

UNFINISHED = (JobStatus.QUEUED, JobStatus.ANALYZING, JobStatus.RENDERING)
#: At most this many over-SLA jobs are listed (the total is counted apart).
SLA_LIST_LIMIT = 100
#: At most this many error codes per window (codes are few; this only bounds the page).
FAILURE_CODES_LIMIT = 50
#: The most expensive artists / tracks listed.
COST_TOP = 50
FAILURE_WINDOWS: tuple[tuple[str, timedelta], ...] = (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)))


@dataclass(frozen=True)
class OverSla:
    job: Job
    age: timedelta


@dataclass(frozen=True)
class FailureGroup:
    error_code: str
    count: int
    latest_at: datetime
    example: Job | None


def jobs_over_sla(*, sla_s: int, now: datetime | None = None, limit: int = SLA_LIST_LIMIT) -> tuple[list[OverSla], int]:
    """Unfinished jobs submitted more than ``sla_s`` seconds ago, oldest first, and their total.

    Two queries (the owner comes with the job).
    """
    now = now or timezone.now()
    over = Job.objects.filter(status__in=UNFINISHED, created_at__lt=now - timedelta(seconds=sla_s))
    total = over.count()
    rows = over.select_related("owner").order_by("created_at")[:limit]
    return [OverSla(job=job, age=now - job.created_at) for job in rows], total


def failures_by_code(*, now: datetime | None = None) -> dict[str, list[FailureGroup]]:
    """Failed jobs per ``error_code`` in each window of :data:`FAILURE_WINDOWS`, most frequent
    first, each with its latest failed job.  One grouped query per window plus one for the
    examples of all windows together."""
    now = now or timezone.now()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for label, span in FAILURE_WINDOWS:
        failed = Job.objects.filter(status=JobStatus.FAILED, failed_at__gte=now - span)
        latest = failed.filter(error_code=OuterRef("error_code")).order_by("-failed_at", "-pk").values("pk")[:1]
        grouped[label] = [
            dict(row)
            for row in failed.order_by()
            .values("error_code")
            .annotate(count=Count("pk"), latest_at=Max("failed_at"), example_id=Subquery(latest))
            .order_by("-count", "error_code")[:FAILURE_CODES_LIMIT]
        ]
    ids = {row["example_id"] for rows in grouped.values() for row in rows if row["example_id"] is not None}
    examples = Job.objects.select_related("owner").in_bulk(ids) if ids else {}
    return {
        label: [
            FailureGroup(
                error_code=row["error_code"],
                count=row["count"],
                latest_at=row["latest_at"],
                example=examples.get(row["example_id"]),
            )
            for row in rows
        ]
        for label, rows in grouped.items()
    }


def month_start(now: datetime | None = None) -> datetime:
    """Midnight UTC on the first day of ``now``'s calendar month (UTC)."""
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _sums() -> dict[str, Any]:
    zero = Value(0, output_field=IntegerField())
    return {
        "cost_usd": Coalesce(Sum("cost_usd"), zero_usd()),
        "requests": Count("pk"),
        "input_tokens": Coalesce(Sum("input_tokens"), zero),
        "output_tokens": Coalesce(Sum("output_tokens"), zero),
        "cached_tokens": Coalesce(Sum("cached_tokens"), zero),
    }


def llm_cost_this_month(*, now: datetime | None = None, top: int = COST_TOP) -> dict[str, Any]:
    """LLM usage since :func:`month_start`: the month's totals, and the ``top`` artists and
    tracks by cost (each row: ids, names, cost_usd, requests, input/output/cached tokens).

    An artist is the user who made the requests (``llm_usage.user``; its artist profile
    names it); a track is ``llm_usage.music``.  Three queries.
    """
    since = month_start(now)
    month = LlmUsage.objects.filter(created_at__gte=since).order_by()
    totals = month.aggregate(**_sums())
    artists = list(
        month.values("user_id", "user__username", "user__artist__id", "user__artist__name")
        .annotate(**_sums())
        .order_by("-cost_usd", "user_id")[:top]
    )
    tracks = list(
        month.filter(music__isnull=False)
        .values("music_id", "music__title", "music__artist__name")
        .annotate(**_sums())
        .order_by("-cost_usd", "music_id")[:top]
    )
    return {"since": since, "totals": totals, "artists": artists, "tracks": tracks}
