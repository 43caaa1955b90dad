"""Job webhooks: signed POSTs to an artist's own endpoints when their jobs finish.

* An endpoint belongs to one owner and hears only about that owner's jobs.  Its
  URL passes the same outbound guard as URL ingest (``fala_clip.netguard``) when
  it is registered *and* before every attempt (DNS may change in between), and
  the request goes to the address that was checked.
* ``job_transition`` calls :func:`webhook_notify` inside the transition's
  transaction: one ``pending`` delivery row per endpoint that wants the event, so
  the delivery exists exactly when the transition does.  The attempt is enqueued
  on the ``default`` queue after commit.
* An attempt POSTs the JSON body with ``X-Fala-Signature: t=<unix>,v1=<hex>``,
  where ``v1`` is HMAC-SHA256 of ``"<t>.<body>"`` under the endpoint's secret
  (Stripe's scheme): a receiver checks the MAC and refuses an old ``t`` (replays).
  A 2xx is success; anything else (timeout, refused connection, 3xx — redirects
  are not followed — 4xx, 5xx) is retried after ``WEBHOOK_RETRY_BASE_S × 2^(n-1)``
  seconds up to ``WEBHOOK_MAX_ATTEMPTS``, each attempt a new row of the log.
  Retries are RQ scheduled jobs (``enqueue_at``): the default worker runs RQ's
  scheduler (``manage.py worker default``).  Should Redis lose them, the
  ``pending`` rows are found by :func:`webhook_deliveries_requeue` (run by
  ``manage.py scheduler``) and enqueued again.
* Nothing here can fail a job: a webhook error is logged and the job goes on.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fala_clip.api.errors import ServiceError
from fala_clip.netguard import AddressRefused, PinnedHTTPConnection, PinnedHTTPSConnection, public_address_of
from jobs.models import Job, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Fala-Signature"
USER_AGENT = "fala-clip-webhooks/1"
EXCERPT_BYTES = 500
#: A ``pending`` attempt due this long ago and not started (or started and never finished)
#: lost its queue entry: ``webhook_deliveries_requeue`` enqueues it again.
REQUEUE_AFTER_S = 60
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
D = WebhookDelivery.Outcome


# --------------------------------------------------------------------------- signing


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Fala-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(*, secret: str, body: bytes, header: str, tolerance_s: float = 300, now: float | None = None) -> bool:
    """What a receiver does: the MAC matches and the timestamp is recent (no replays)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret=secret, body=body, timestamp=timestamp).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --------------------------------------------------------------------------- endpoints


def _split_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of an acceptable URL, or ServiceError ``unsafe_url``."""
    if not url or _CONTROL.search(url):
        raise ServiceError("unsafe_url", "The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ServiceError("unsafe_url", "The URL is malformed.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ServiceError("unsafe_url", "Only http and https URLs are accepted.")
    if parts.username is not None or parts.password is not None:
        raise ServiceError("unsafe_url", "URLs with credentials are not accepted.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ServiceError("unsafe_url", "The URL has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _checked_address(url: str) -> tuple[str, str, int, str, str]:
    scheme, host, port, path = _split_url(url)
    try:
        ip = public_address_of(
            host, port, allow_hosts=settings.WEBHOOK_ALLOW_HOSTS, timeout=min(5.0, settings.WEBHOOK_TIMEOUT_S)
        )
    except AddressRefused as exc:
        raise ServiceError("unsafe_url", exc.message) from None
    return scheme, host, port, path, ip


def webhook_endpoint_create(
    *, owner: Any, url: str, events: list[str] | None = None, active: bool = True
) -> WebhookEndpoint:
    """Register ``url`` for ``owner``; the returned row carries the secret (show it once)."""
    wanted = sorted(set(events)) if events else [WebhookEvent.DONE.value, WebhookEvent.FAILED.value]
    unknown = [e for e in wanted if e not in WebhookEvent.values]
    if unknown:
        raise ServiceError("invalid", "Unknown webhook events.", {"events": unknown})
    _checked_address(url)
    if WebhookEndpoint.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise ServiceError(
            "too_many_endpoints",
            f"At most {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints per artist.",
            status_code=409,
        )
    return WebhookEndpoint.objects.create(
        owner=owner, url=url, events=wanted, active=active, secret="whsec_" + secrets.token_urlsafe(32)
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint; its log stays (``endpoint`` becomes null) and pending attempts are cancelled."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(endpoint=endpoint, outcome=D.PENDING).update(
            outcome=D.CANCELLED, finished_at=timezone.now(), error="endpoint deleted"
        )
        endpoint.delete()


# --------------------------------------------------------------------------- notifying


def job_payload(*, job: Job, event: str) -> dict[str, Any]:
    """The ``data`` of a webhook body: the job as ``GET /jobs/{id}`` shows it, without the log."""
    from jobs.serializers import JobSerializer

    shown = JobSerializer(job).data
    keep = ("id", "kind", "status", "stage", "progress", "attempts", "error", "links", "updated_at")
    return {"job": {k: shown[k] for k in keep}}


def webhook_notify(*, job: Job, event: str) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint of the job's owner that wants ``event``.

    Called inside the transaction of the change it reports, in a savepoint: an
    error here is logged and rolled back alone, never failing the job.  The
    attempts are enqueued once that transaction commits.
    """
    try:
        with transaction.atomic():
            endpoints = [
                e
                for e in WebhookEndpoint.objects.filter(owner_id=job.owner_id, active=True)
                if event in (e.events or [])
            ]
            if not endpoints:
                return []
            now = timezone.now()
            data = job_payload(job=job, event=event)
            rows = []
            for endpoint in endpoints:
                row = WebhookDelivery(
                    endpoint=endpoint, owner_id=job.owner_id, url=endpoint.url, job=job, event=event, due_at=now
                )
                row.payload = {
                    "id": str(row.delivery_id),
                    "type": event,
                    "created_at": now.isoformat().replace("+00:00", "Z"),
                    "data": data,
                }
                rows.append(row)
            WebhookDelivery.objects.bulk_create(rows)
    except Exception:
        log.exception("could not record the webhooks of job %s (%s)", job.pk, event)
        return []
    for row in rows:
        transaction.on_commit(functools.partial(_enqueue_safely, row.pk, row.due_at))
    return rows


def _enqueue_safely(delivery_pk: int, due_at: datetime) -> None:
    try:
        _enqueue(delivery_pk, due_at)
    except Exception:
        # The row stays pending: webhook_deliveries_requeue enqueues it again later.
        log.exception("could not enqueue webhook delivery %s now; the scheduler will retry", delivery_pk)


def _enqueue(delivery_pk: int, due_at: datetime) -> None:
    if settings.JOBS_EAGER:
        # Embedded mode (no Redis): one attempt right away, no scheduled retries.
        deliver_webhook(delivery_pk)
        return
    from jobs.dispatch import get_queue

    queue = get_queue("default")
    kwargs = {"job_id": f"webhook-{delivery_pk}", "result_ttl": 600, "failure_ttl": 7 * 24 * 3600}
    if due_at <= timezone.now():
        queue.enqueue("jobs.webhooks.deliver_webhook", delivery_pk, **kwargs)
    else:
        # RQ's scheduler keeps whole seconds (and would round 1.4 s down to 1 s): never early.
        when = datetime.fromtimestamp(math.ceil(due_at.timestamp()), tz=due_at.tzinfo)
        queue.enqueue_at(when, "jobs.webhooks.deliver_webhook", delivery_pk, **kwargs)


def retry_delay_s(attempt: int) -> float:
    """Seconds between attempt ``attempt`` failing and the next one: exponential, capped."""
    return float(min(settings.WEBHOOK_RETRY_BASE_S * 2 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX_S))


# --------------------------------------------------------------------------- delivering


class _Failed(Exception):
    def __init__(self, code: str, *, final: bool = False):
        super().__init__(code)
        self.code = code
        self.final = final


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST ``body``; ``(status, excerpt)``.  The whole exchange is bounded by ``timeout``."""
    try:
        scheme, host, port, path, ip = _checked_address(url)
    except ServiceError as exc:
        raise _Failed(f"unsafe_url: {exc.message}"[:200], final=True) from None
    conn: PinnedHTTPConnection | PinnedHTTPSConnection
    if scheme == "https":
        conn = PinnedHTTPSConnection(host, port, ip, timeout)
    else:
        conn = PinnedHTTPConnection(host, port, ip, timeout)

    def _cut() -> None:  # a receiver that dribbles bytes must not hold the worker past the deadline
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(2)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, _cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        excerpt = resp.read(EXCERPT_BYTES).decode("utf-8", "replace")
        return resp.status, _CONTROL.sub(" ", excerpt).strip()
    except TimeoutError:
        raise _Failed("timeout") from None
    except (OSError, ConnectionError) as exc:
        raise _Failed(f"connection_error: {type(exc).__name__}") from None
    except Exception as exc:  # http.client's protocol errors (a bad status line …)
        raise _Failed(f"protocol_error: {type(exc).__name__}") from None
    finally:
        watchdog.cancel()
        conn.close()


def webhook_delivery_attempt(*, delivery_pk: int) -> WebhookDelivery | None:
    """Make one attempt; schedule the next on failure.  ``None`` when it was not ours to make."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_pk, outcome=D.PENDING, started_at__isnull=True).update(
        started_at=now
    )
    if not claimed:
        return None  # done, cancelled, or another worker has it (a re-enqueued duplicate)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_pk)
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.active or delivery.event not in (endpoint.events or []):
        delivery.outcome, delivery.error, delivery.finished_at = D.CANCELLED, "endpoint deleted or paused", now
        delivery.save(update_fields=["outcome", "error", "finished_at"])
        return delivery
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fala-Event": delivery.event,
        "X-Fala-Delivery": str(delivery.delivery_id),
        "X-Fala-Attempt": str(delivery.attempt),
        SIGNATURE_HEADER: sign(secret=endpoint.secret, body=body, timestamp=int(time.time())),
    }
    t0 = time.monotonic()
    final = False
    try:
        status, excerpt = _post(endpoint.url, body, headers, settings.WEBHOOK_TIMEOUT_S)
        delivery.status_code, delivery.response_excerpt = status, excerpt
        ok = 200 <= status < 300
        delivery.error = "" if ok else f"http_{status}"
    except _Failed as exc:
        ok, final = False, exc.final
        delivery.error = exc.code[:200]
    delivery.duration_ms = round((time.monotonic() - t0) * 1000)
    delivery.finished_at = timezone.now()
    fields = ["status_code", "response_excerpt", "error", "duration_ms", "finished_at", "outcome", "next_retry_at"]
    if ok:
        delivery.outcome = D.SUCCESS
    elif final or delivery.attempt >= settings.WEBHOOK_MAX_ATTEMPTS or settings.JOBS_EAGER:
        # (The embedded mode has no scheduler to make a retry: one attempt only.)
        delivery.outcome = D.FAILED
    else:
        delivery.outcome = D.RETRYING
        next_at = delivery.finished_at + timedelta(seconds=retry_delay_s(delivery.attempt))
        delivery.next_retry_at = next_at
    with transaction.atomic():
        delivery.save(update_fields=fields)
        if delivery.outcome == D.RETRYING:
            nxt = WebhookDelivery.objects.create(
                delivery_id=delivery.delivery_id,
                endpoint=endpoint,
                owner_id=delivery.owner_id,
                url=delivery.url,
                job_id=delivery.job_id,
                event=delivery.event,
                payload=delivery.payload,
                attempt=delivery.attempt + 1,
                due_at=next_at,
            )
            transaction.on_commit(lambda: _enqueue_safely(nxt.pk, nxt.due_at))
    log.info(
        "webhook %s attempt %s for job %s: %s %s",
        delivery.delivery_id,
        delivery.attempt,
        delivery.job_id,
        delivery.outcome,
        delivery.status_code or delivery.error,
    )
    return delivery


def webhook_deliveries_requeue() -> int:
    """Enqueue again the pending attempts whose queue entry was lost (Redis restarted, worker killed)."""
    cutoff = timezone.now() - timedelta(seconds=REQUEUE_AFTER_S)
    stuck_started = cutoff - timedelta(seconds=settings.WEBHOOK_TIMEOUT_S)
    # An attempt whose worker died mid-request is made again (at least once: receivers dedupe
    # on X-Fala-Delivery).
    WebhookDelivery.objects.filter(outcome=D.PENDING, started_at__lt=stuck_started).update(started_at=None)
    lost = list(
        WebhookDelivery.objects.filter(outcome=D.PENDING, started_at__isnull=True, due_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in lost:
        _enqueue_safely(pk, timezone.now())
    if lost:
        log.warning("re-enqueued %d webhook deliveries that had lost their queue entry", len(lost))
    return len(lost)


# --------------------------------------------------------------------------- RQ entry points


def deliver_webhook(delivery_pk: int) -> None:
    """RQ (``default`` queue): one attempt of one delivery."""
    webhook_delivery_attempt(delivery_pk=delivery_pk)


def scheduled_webhook_requeue() -> int:
    """RQ cron (``manage.py scheduler``)."""
    return webhook_deliveries_requeue()
