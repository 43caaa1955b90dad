"""Writes to jobs: creation, the state machine, stages, progress, failure.

Every status change goes through :func:`job_transition`, which checks the
allowed source state and applies the change with a conditional
``UPDATE … WHERE status = <current>`` so that two concurrent transitions of
one job cannot both win.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from fala_clip import telemetry
from fala_clip.dbretry import close_if_lost, db_retry
from fala_clip.logging import current_request_id
from jobs.errors import ConcurrentTransition, IllegalTransition
from jobs.models import Job, JobEvent, JobKind, JobStatus, WebhookEvent
from jobs.webhooks import webhook_notify

log = logging.getLogger(__name__)

S = JobStatus

#: In-process observers of job updates, called with ``(job, what, data)``; the
#: ``clip`` command uses one to draw its progress bar.  Never used for logic.
LISTENERS: list[Any] = []


def _notify(job: Job, what: str, data: dict[str, Any]) -> None:
    for listener in LISTENERS:
        try:
            listener(job, what, data)
        except Exception:  # a display problem must never break a job
            log.exception("job listener failed")


# Allowed transitions.  ``→ queued`` from an active state is a retry only.
_COMMON: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.ANALYZING, S.FAILED}),
    S.ANALYZING: frozenset({S.RENDERING, S.DONE, S.FAILED, S.QUEUED}),
    S.RENDERING: frozenset({S.DONE, S.FAILED, S.QUEUED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
# Music analysis never renders: analyzing → done.
_MUSIC: dict[str, frozenset[str]] = {**_COMMON, S.ANALYZING: frozenset({S.DONE, S.FAILED, S.QUEUED})}


def allowed_transitions(kind: str, status: str) -> frozenset[str]:
    table = _MUSIC if kind == JobKind.MUSIC_ANALYSIS else _COMMON
    return table.get(status, frozenset())


def job_create(
    *,
    owner: Any,
    kind: str,
    params: dict[str, Any] | None = None,
    queue: str = "heavy",
    max_attempts: int | None = None,
) -> Job:
    """Create a queued job (the caller enqueues it with ``jobs.dispatch.job_enqueue``)."""
    if kind not in settings.JOB_HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    now = timezone.now()
    # The request that asked for this job (X-Request-ID), so its logs and the job's
    # events can be followed from the API call to the worker and ffmpeg.
    request_id = current_request_id()
    job = Job.objects.create(
        kind=kind,
        owner=owner,
        queue=queue,
        params={**(params or {}), **({"request_id": request_id} if request_id else {})},
        max_attempts=max_attempts if max_attempts is not None else settings.JOB_MAX_ATTEMPTS,
        queued_at=now,
    )
    JobEvent.objects.create(
        job=job,
        type=JobEvent.Type.TRANSITION,
        to_status=S.QUEUED,
        message="job created",
        data={"request_id": request_id} if request_id else {},
    )
    return job


def job_transition(
    *,
    job: Job,
    to: str,
    stage: str | None = None,
    error_code: str = "",
    error_message: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
    count_attempt: bool = False,
) -> Job:
    """Move ``job`` from its current (in-memory) status to ``to``.

    Raises :class:`IllegalTransition` when ``to`` is not allowed from the
    current status, and :class:`ConcurrentTransition` when the row no longer
    has that status (someone else moved it).  In both cases nothing changes.
    Returns the refreshed job.
    """
    current = job.status
    if to not in allowed_transitions(job.kind, current):
        raise IllegalTransition(f"job {job.id}: {current} → {to} is not allowed")
    now = timezone.now()
    fields: dict[str, Any] = {"status": to, "updated_at": now, f"{to}_at": now}
    if stage is not None:
        fields["stage"] = stage
    if to == S.FAILED:
        fields["error_code"] = error_code or "failed"
        fields["error_message"] = error_message
    if to == S.QUEUED:
        fields["heartbeat_at"] = None
        fields["enqueued_at"] = None
    if to == S.ANALYZING:
        fields["heartbeat_at"] = now
    if count_attempt:
        fields["attempts"] = F("attempts") + 1
    # The event carries a token of this call: when the connection dies while the
    # transaction commits, the outcome is unknown, and a retry first looks for it.
    op = uuid.uuid4().hex
    event_data = {
        **(data or {}),
        **({"error_code": fields["error_code"]} if to == S.FAILED else {}),
        "op": op,
    }

    def apply(attempt: int) -> None:
        if attempt and JobEvent.objects.filter(job_id=job.pk, type=JobEvent.Type.TRANSITION, data__op=op).exists():
            return  # the earlier try committed before its connection died
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, status=current).update(**fields)
            if updated != 1:
                raise ConcurrentTransition(f"job {job.id}: status is no longer {current}; {to} not applied")
            JobEvent.objects.create(
                job_id=job.pk,
                type=JobEvent.Type.TRANSITION,
                from_status=current,
                to_status=to,
                stage=stage or "",
                message=message or error_message,
                data=event_data,
            )
            if to in (S.DONE, S.FAILED):
                # In the transition's transaction: the webhook deliveries exist exactly when it does.
                job.refresh_from_db()
                webhook_notify(job=job, event=WebhookEvent.DONE if to == S.DONE else WebhookEvent.FAILED)

    db_retry(apply, what=f"transition {current} → {to}")
    log.info("job %s %s → %s %s", job.id, current, to, error_code)
    job_refresh(job=job)
    _count_transition(job, current, to, data or {})
    _notify(job, "transition", {"from": current, "to": to})
    return job


def _count_transition(job: Job, current: str, to: str, data: dict[str, Any]) -> None:
    """Prometheus: transitions, terminal outcomes with their queued → end duration, retries."""
    telemetry.JOB_TRANSITIONS.labels(job.kind, to).inc()
    if to in (S.DONE, S.FAILED):
        outcome = telemetry.outcome_of(to)
        telemetry.JOBS.labels(job.kind, outcome).inc()
        started = job.queued_at or job.created_at
        ended = job.done_at if to == S.DONE else job.failed_at
        if started and ended:
            telemetry.JOB_DURATION.labels(job.kind, outcome).observe(max((ended - started).total_seconds(), 0.0))
    elif to == S.QUEUED and current != S.QUEUED:
        telemetry.JOB_RETRIES.labels(job.kind, str(data.get("code") or "unknown")[:60]).inc()


def job_set_stage(*, job: Job, stage: str, message: str = "", data: dict[str, Any] | None = None) -> None:
    """Record the fine-grained stage (``transcribing``, ``rendering_variant`` …)."""

    def apply(_attempt: int) -> None:
        # One transaction: a retry after a lost connection writes the event at most once
        # (only a commit whose answer was lost could leave a duplicate STAGE event).
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(stage=stage, updated_at=timezone.now())
            JobEvent.objects.create(
                job_id=job.pk, type=JobEvent.Type.STAGE, stage=stage, message=message, data=data or {}
            )
            webhook_notify(job=job, event=WebhookEvent.STAGE)

    job.stage = stage  # (the stage webhook's payload reads it)
    db_retry(apply, what=f"stage {stage}")
    log.info("job %s stage %s", job.pk, stage)
    _notify(job, "stage", {"stage": stage})


def job_set_progress(*, job: Job, log_event: bool = False, **progress: Any) -> None:
    """Merge ``progress`` into the job's progress dict (one UPDATE).

    Best effort: progress is written many times a second while ffmpeg runs, and
    the next write carries the same information, so a write that finds the
    database gone is dropped (its connection closed, the next one reconnects)
    instead of holding ffmpeg's progress pipe while the database restarts.
    """
    merged = {**(job.progress or {}), **progress}
    job.progress = merged
    try:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                progress=merged, updated_at=timezone.now(), heartbeat_at=timezone.now()
            )
            if log_event:
                JobEvent.objects.create(job_id=job.pk, type=JobEvent.Type.PROGRESS, stage=job.stage, data=progress)
    except DatabaseError as exc:
        if not close_if_lost(exc):
            raise
        log.warning("job %s: progress not recorded, database connection lost: %s", job.pk, exc)
    _notify(job, "progress", merged)


def job_record_stage_timing(*, job: Job, stage: str, seconds: float) -> None:
    """Store a stage's wall time on the job and observe it in ``fala_job_stage_duration_seconds``.

    Stage names are a bounded set (pipeline steps, ``video.<step>``, ``music.<step>``,
    ``render.variant_<n>``, ``delivery``); the job keeps the last value per name, the
    histogram every observation.
    """
    timings = {**(job.stage_timings or {}), stage: round(seconds, 3)}
    db_retry(lambda _a: Job.objects.filter(pk=job.pk).update(stage_timings=timings), what="stage timing")
    job.stage_timings = timings
    telemetry.JOB_STAGE_DURATION.labels(job.kind, stage[:60]).observe(max(float(seconds), 0.0))


def job_set_result(*, job: Job, **result: Any) -> None:
    merged = {**(job.result or {}), **result}
    db_retry(
        lambda _a: Job.objects.filter(pk=job.pk).update(result=merged, updated_at=timezone.now()), what="job result"
    )
    job.result = merged


def job_heartbeat(*, job_id: Any) -> None:
    """One beat (idempotent): retried on a fresh connection when the database restarted."""
    db_retry(
        lambda _a: Job.objects.filter(pk=job_id, status__in=[S.ANALYZING, S.RENDERING]).update(
            heartbeat_at=timezone.now()
        ),
        what="heartbeat",
    )


def job_refresh(*, job: Job) -> Job:
    """``job.refresh_from_db()`` that reconnects when the database restarted."""
    db_retry(lambda _a: job.refresh_from_db(), what="reading the job")
    return job


def job_log(*, job: Job, message: str, type: str = JobEvent.Type.INFO, data: dict[str, Any] | None = None) -> None:
    db_retry(
        lambda _a: JobEvent.objects.create(job_id=job.pk, type=type, stage=job.stage, message=message, data=data or {}),
        what="job event",
    )


def job_fail(*, job: Job, code: str, message: str) -> Job:
    return job_transition(job=job, to=S.FAILED, error_code=code, error_message=message[:4000])
