"""Jobs: the durable record of every piece of background work.

PostgreSQL is the source of truth for a job's state; RQ only carries the
work.  Every state change goes through ``jobs.services.job_transition``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    ANALYZING = "analyzing"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"


class JobKind(models.TextChoices):
    MUSIC_ANALYSIS = "music_analysis"
    CLIP_PIPELINE = "clip_pipeline"
    FEEDBACK_APPLY = "feedback_apply"


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED})
ACTIVE_STATUSES = frozenset({JobStatus.ANALYZING, JobStatus.RENDERING})


class Job(models.Model):
    """One unit of background work (a music analysis or a clip pipeline)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    queue = models.CharField(max_length=20, default="heavy")
    music_asset = models.ForeignKey(
        "music.MusicAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    video_ingest = models.ForeignKey(
        "video.VideoIngest", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    stage = models.CharField(max_length=40, blank=True, default="")
    progress = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    stage_timings = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=2)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    analyzing_at = models.DateTimeField(null=True, blank=True)
    rendering_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    workspace_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "jobs"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} [{self.status}]"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobEvent(models.Model):
    """An append-only entry of a job's event log (transitions, stages, errors)."""

    class Type(models.TextChoices):
        TRANSITION = "transition"
        STAGE = "stage"
        PROGRESS = "progress"
        RETRY = "retry"
        ERROR = "error"
        INFO = "info"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    type = models.CharField(max_length=16, choices=Type.choices)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    stage = models.CharField(max_length=40, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "job_events"
        ordering = ["created_at", "id"]
        # GET /jobs/{id}/events polls "this job's events after id N" every second per stream.
        indexes = [models.Index(fields=["job", "id"], name="job_events_job_id_seq_idx")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.type} {self.from_status}->{self.to_status} {self.stage}"


class WebhookEvent(models.TextChoices):
    """Job events an artist's webhook endpoint can ask for."""

    DONE = "job.done"
    FAILED = "job.failed"
    STAGE = "job.stage"


def default_webhook_events() -> list[str]:
    return [WebhookEvent.DONE, WebhookEvent.FAILED]


class WebhookEndpoint(models.Model):
    """An artist's URL that receives signed POSTs about their own jobs.

    ``secret`` signs every body (HMAC-SHA256, ``X-Fala-Signature``); it is made
    here, returned once by the API that creates the endpoint and never again.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=default_webhook_events)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "active"])]

    def __str__(self) -> str:
        return f"{self.owner_id} → {self.url}"


class WebhookDelivery(models.Model):
    """One attempt to deliver one job event to one endpoint (the delivery log).

    The attempts of one delivery share ``delivery_id`` (sent as ``X-Fala-Delivery``
    so a receiver can drop duplicates).  A row is written ``pending`` before its
    attempt is enqueued, so PostgreSQL knows about every attempt even when Redis
    loses the queue entry (``jobs.webhooks.webhook_deliveries_requeue``).
    """

    class Outcome(models.TextChoices):
        PENDING = "pending"  # not tried yet (queued or scheduled)
        SUCCESS = "success"  # 2xx
        RETRYING = "retrying"  # failed; the next attempt is scheduled at next_retry_at
        FAILED = "failed"  # failed and no attempt is left (or the URL is refused)
        CANCELLED = "cancelled"  # the endpoint was deleted or paused before this attempt

    delivery_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries")
    url = models.URLField(max_length=2000)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=20, choices=WebhookEvent.choices)
    payload = models.JSONField(default=dict)
    attempt = models.PositiveIntegerField(default=1)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["outcome", "due_at"]), models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} job {self.job_id} attempt {self.attempt} [{self.outcome}]"
