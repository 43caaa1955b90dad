"""Reads for jobs, always scoped to the requesting owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jobs.models import Job


def job_list(*, owner: Any, status: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.filter(owner=owner)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-pk")


def job_get(*, owner: Any, job_id: Any) -> Job:
    """The owner's job or ``Job.DoesNotExist`` (another user's id looks absent)."""
    return Job.objects.prefetch_related("events").get(owner=owner, pk=job_id)
