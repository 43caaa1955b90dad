"""``/metrics``: one Prometheus scrape for the whole host.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``make serve``, production) it sums the value files
of every process — gunicorn workers, RQ workers and their work-horses — plus the
scrape-time collectors (queues, jobs, workers, processes, host); without it (tests,
``manage.py runserver``) it serves this process's registry plus the same collectors.

Access: open when ``METRICS_PUBLIC`` (the development default); otherwise only with
``Authorization: Bearer <METRICS_BEARER_TOKEN>`` or from an address in
``METRICS_ALLOWED_IPS`` (production default: loopback only).  Refusals are in the API's
JSON error shape: 401 (with ``WWW-Authenticate``) when a token is configured, else 403.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from fala_clip import promdir
from fala_clip.api.views import json_error
from metrics.collectors import HostCollector, JobsCollector, ProcessCollector, ScrapeTimer


class _TimerCollector:
    def __init__(self, timer: ScrapeTimer):
        self.timer = timer

    def collect(self):  # type: ignore[no-untyped-def]
        yield self.timer.metric()


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if settings.METRICS_PUBLIC:
        return None
    token = settings.METRICS_BEARER_TOKEN
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return None
    try:
        addr = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        addr = None
    if addr is not None and any(addr in net for net in settings.METRICS_ALLOWED_NETWORKS):
        return None
    if token:
        response = json_error(401, "not_authenticated", "A valid bearer token is required for /metrics.")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return json_error(403, "permission_denied", "This address may not read /metrics.")


def build_registry(timer: ScrapeTimer) -> CollectorRegistry:
    registry = CollectorRegistry()
    # The database first, the processes' own gauges after it (a registry collects in this
    # order): a worker raises `fala_jobs_in_process` before its claim commits, so a scrape
    # that reads a job as running always finds that worker's gauge up too.
    registry.register(JobsCollector())
    path = promdir.multiproc_dir()
    if path is not None and path.is_dir():
        MultiProcessCollector(registry, path=str(path))
    else:
        registry.register(REGISTRY)  # type: ignore[arg-type]
    registry.register(ProcessCollector())
    registry.register(HostCollector())
    registry.register(_TimerCollector(timer))  # type: ignore[arg-type]
    return registry


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    timer = ScrapeTimer()
    promdir.fold_dead()  # processes that died without anyone folding them (commands, crashes)
    registry = build_registry(timer)
    with promdir.reading():
        body = generate_latest(registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


__all__ = ["build_registry", "metrics_view"]
