"""Reads for jobs, always scoped to the requesting owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jobs.models import Job, WebhookEndpoint


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


def job_get_for_stream(*, owner: Any, job_id: Any) -> Job:
    """The owner's job without its event log (the stream reads that itself), or ``Job.DoesNotExist``."""
    return Job.objects.get(owner=owner, pk=job_id)


def webhook_endpoint_list(*, owner: Any) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner).order_by("-created_at", "-pk")


def webhook_endpoint_get(*, owner: Any, endpoint_id: Any) -> WebhookEndpoint:
    """The owner's endpoint or ``WebhookEndpoint.DoesNotExist`` (another artist's id looks absent)."""
    return WebhookEndpoint.objects.get(owner=owner, pk=endpoint_id)
